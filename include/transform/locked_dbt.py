"""dbt holding the transform-inputs lock for as long as it runs (`include.warehouse.locks`).

`dbt_inputs_lock(args, env)` connects to the warehouse as the profile's user and takes the lock EXCLUSIVE — waiting,
and saying for whom, while a load is landing rows — for the body, which runs dbt in the same process: the
transform's tasks run dbt in their own process (`include.transform.cosmos_adapter`), and `sa-dbt` (this module's
`main`, the executable `sa dbt` and the tests run) runs dbt's command line. The lock belongs to that process's
connection, so it is held until dbt has finished and released when the process ends, even by SIGKILL, which ends
dbt with it. Commands that read no warehouse data (`parse`, `deps`, `ls`, `debug`, `--version`) skip the lock.

Where dbt would connect is read from the profile dbt is about to use (`--profiles-dir`, `--profile`, `--target`, as
Cosmos passes them, else dbt's defaults), rendered with the environment like dbt renders it: the lock follows the
profile — project profiles.yml or one Cosmos writes from an Airflow connection — with no second set of credentials.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

LOCK_FREE_COMMANDS = frozenset({"parse", "deps", "ls", "list", "debug", "clean", "init", "--version", "--help"})
DBT_EXIT_ERROR = 2  # dbt's own exit code when it could not run

log = logging.getLogger("sa-dbt")


def _flag(args: Sequence[str], name: str) -> str | None:
    for index, arg in enumerate(args):
        if arg == name and index + 1 < len(args):
            return args[index + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return None


def _command(args: Sequence[str]) -> str | None:
    return next((a for a in args if not a.startswith("-") or a in ("--version", "--help")), None)


def _render(value: Any, env: dict[str, str]) -> Any:
    """A profile value rendered as dbt renders profiles: Jinja with `env_var()` and dbt's `as_*` filters."""
    if not isinstance(value, str) or "{" not in value:
        return value
    import jinja2

    def env_var(name: str, default: str | None = None) -> str:
        if name in env:
            return env[name]
        if default is None:
            raise KeyError(f"env var {name!r} used by the dbt profile is not set")
        return default

    environment = jinja2.Environment(undefined=jinja2.StrictUndefined)
    environment.filters.update(as_number=lambda v: v, as_text=str, as_bool=lambda v: str(v).lower() == "true",
                               as_native=lambda v: v)
    return environment.from_string(value).render(env_var=env_var)


def profile_connection(args: Sequence[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    """host, port, dbname, user, password of the profile target dbt will use with these arguments."""
    import yaml

    env = dict(os.environ if env is None else env)
    project_dir = Path(_flag(args, "--project-dir") or env.get("DBT_PROJECT_DIR") or ".")
    profiles_dir = Path(_flag(args, "--profiles-dir") or env.get("DBT_PROFILES_DIR") or project_dir)
    profiles = yaml.safe_load((profiles_dir / "profiles.yml").read_text())
    name = _flag(args, "--profile") or yaml.safe_load((project_dir / "dbt_project.yml").read_text())["profile"]
    profile = profiles[name]
    target = profile["outputs"][_flag(args, "--target") or env.get("DBT_TARGET") or profile.get("target", "default")]
    rendered = {key: _render(value, env) for key, value in target.items()}
    return {"host": rendered["host"], "port": int(rendered.get("port", 5432)),
            "dbname": rendered.get("dbname") or rendered["database"], "user": rendered["user"],
            "password": rendered.get("password") or rendered.get("pass") or ""}


@contextmanager
def dbt_inputs_lock(args: Sequence[str], env: dict[str, str] | None = None) -> Iterator[None]:
    """Hold the exclusive transform-inputs lock on a connection of our own while the body runs, when the dbt command
    `args` (dbt's arguments, without the executable) reads warehouse data; the profile is the one dbt will use with
    `args` and `env` (default this process's)."""
    if _command(args) in LOCK_FREE_COMMANDS:
        yield
        return
    import psycopg

    from include.warehouse.locks import hold_for_build

    conn = psycopg.connect(**profile_connection(args, env), autocommit=True, connect_timeout=10,
                           application_name=f"sa-dbt {_command(args)} (pid {os.getpid()})")
    try:
        hold_for_build(conn, f"dbt {_command(args)} (pid {os.getpid()})")
        yield
    finally:
        conn.close()  # releases the session lock


# A dbt session whose process died (SIGKILL) stops its query within this much, rather than running it to the end
# after the lock was released with the process (PostgreSQL >= 14; set through libpq's PGOPTIONS).
CLIENT_CHECK_INTERVAL_MS = 1000


def with_client_check(env: dict[str, str]) -> dict[str, str]:
    """`env` with PostgreSQL's dead-client check added to PGOPTIONS for dbt's connections."""
    option = f"-c client_connection_check_interval={CLIENT_CHECK_INTERVAL_MS}"
    return {**env, "PGOPTIONS": f"{env.get('PGOPTIONS', '')} {option}".strip()}


def run_dbt_cli(args: list[str]) -> int:
    """dbt's own command line in this process; returns its exit code."""
    from dbt.cli.main import cli

    try:
        cli.main(args=args, prog_name="dbt", standalone_mode=True)
    except SystemExit as exit_:
        code = exit_.code
        return code if isinstance(code, int) else (0 if code is None else DBT_EXIT_ERROR)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s sa-dbt %(levelname)s %(message)s", stream=sys.stderr)
    os.environ.update(with_client_check(dict(os.environ)))
    with ExitStack() as stack:
        try:
            stack.enter_context(dbt_inputs_lock(args))
        except Exception as exc:
            print(f"sa-dbt: could not take the transform-inputs lock: {type(exc).__name__}: {exc}", file=sys.stderr)
            return DBT_EXIT_ERROR
        return run_dbt_cli(args)


if __name__ == "__main__":
    sys.exit(main())
