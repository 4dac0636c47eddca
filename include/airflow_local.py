"""The local Airflow runtime: one environment for every Airflow process, and start/stop/status of its components.

The same `airflow_env()` is used by `make airflow-start`, the demo, `sa airflow -- <cli args>` and the end-to-end
tests, so what is tested is what runs. Components run as separate process groups (api-server, scheduler,
dag-processor, triggerer, and with `AIRFLOW__CORE__EXECUTOR=CeleryExecutor` the Celery workers) with pid files and
logs under `$AIRFLOW_HOME/run/`; `stop` sends SIGTERM to each group.

The executor is Airflow's own setting: LocalExecutor (the default: the scheduler forks the task processes) or
CeleryExecutor — the production topology run natively: `SA_CELERY_WORKERS` workers (default 2, each
`SA_CELERY_WORKER_CONCURRENCY` task slots, default 4), broker `AIRFLOW__CELERY__BROKER_URL` (default Redis on
127.0.0.1:6379), results in the metadata database.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from include.airflow_api import AirflowApi
from include.config import Settings, get_settings, local_secret, secret, secret_source
from include.pipeline import CHAIN, DBT_DOCS_SLUG
from include.transform.dbt_env import dbt_project_env
from include.warehouse.bootstrap import ensure_metadata_database
from include.warehouse.connections import airflow_conn_env

COMPONENTS: dict[str, list[str]] = {
    "api-server": ["api-server"],
    "scheduler": ["scheduler", "--skip-serve-logs"],
    "dag-processor": ["dag-processor"],
    "triggerer": ["triggerer", "--skip-serve-logs"],
}
CELERY_WORKER = "celery-worker"
DEFAULT_BROKER_URL = "redis://127.0.0.1:6379/0"
ADMIN_USER = "admin"
# The local admin's password is generated into the secrets store (secret `airflow_admin_password`, env
# SA_AIRFLOW_ADMIN_PASSWORD): printed once, when generated; the API is bound to 127.0.0.1. The simple auth manager is
# for development only: production uses a real auth manager (docs/production.md).
ADMIN_PASSWORD_SECRET = "airflow_admin_password"
SIMPLE_AUTH_MANAGER = "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"


class AirflowAlreadyRunning(RuntimeError):
    pass


@dataclass(frozen=True)
class ComponentState:
    name: str
    pid: int | None

    @property
    def running(self) -> bool:
        return self.pid is not None


def _fernet_key(settings: Settings) -> str:
    import base64

    # A Fernet key is 32 url-safe base64-encoded bytes; derive it from a generated local secret.
    raw = local_secret("airflow_fernet_seed", settings).encode()[:32].ljust(32, b"0")
    return base64.urlsafe_b64encode(raw).decode()


def base_url(settings: Settings) -> str:
    return f"http://127.0.0.1:{settings.airflow_port}"


def dbt_docs_projects(settings: Settings) -> str:
    """Cosmos' `[cosmos] dbt_docs_projects`: the one project whose docs support_dbt_docs publishes."""
    return json.dumps({DBT_DOCS_SLUG: {"dir": str(settings.dbt_docs_dir), "name": "dbt Docs"}})


def admin_password(settings: Settings) -> str:
    """The local admin's password (generated on first use; `first_login_notice` says where it lives)."""
    return secret(ADMIN_PASSWORD_SECRET, settings)


def first_login_notice(settings: Settings) -> str:
    """How to log in: the password itself only the first time (before it was stored), else where it lives."""
    source = secret_source(ADMIN_PASSWORD_SECRET, settings)
    if source is not None:
        return f"login {ADMIN_USER}, password: {ADMIN_PASSWORD_SECRET} from {source}"
    return (f"login {ADMIN_USER} / {admin_password(settings)} (generated now, shown once; kept as "
            f"{ADMIN_PASSWORD_SECRET} in {settings.secrets_file})")


def api(settings: Settings) -> AirflowApi:
    """A REST client of the local Airflow, logged in as its admin."""
    return AirflowApi(base_url(settings), ADMIN_USER, admin_password(settings))


def metadata_db_url(settings: Settings) -> str:
    """Airflow's metadata DB as its own owner role (never the warehouse server's superuser)."""
    return settings.metadata_db_url()


# What carries the warehouse server's superuser credentials into a process, besides WAREHOUSE_URL: never handed on.
SUPERUSER_VARIABLES = ("PGPASSWORD", "POSTGRES_PASSWORD", "SA_POSTGRES_PASSWORD", "PGSERVICEFILE", "PGPASSFILE")


class SuperuserSecretInEnvironment(RuntimeError):
    """An environment variable meant for Airflow holds the warehouse server's superuser password."""


def without_credentials(url: str) -> str:
    """`url` without its user and password: where the server is, not who may act on it."""
    parts = urlsplit(url)
    host = f"[{parts.hostname}]" if parts.hostname and ":" in parts.hostname else parts.hostname or ""
    netloc = host + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))


def _superuser_password(settings: Settings) -> str | None:
    if settings.external_warehouse_url is not None:
        return urlsplit(settings.external_warehouse_url).password
    return local_secret("postgres_password", settings)


def _strip_superuser(env: dict[str, str], settings: Settings) -> None:
    """No Airflow component, and so no task, gets the superuser: WAREHOUSE_URL keeps only host, port and database
    (tasks take their roles from the Connections), the variables libpq or the postgres image read are dropped, and
    any other value holding the superuser's password is refused."""
    if env.get("WAREHOUSE_URL", "").strip():
        env["WAREHOUSE_URL"] = without_credentials(env["WAREHOUSE_URL"].strip())
    for name in SUPERUSER_VARIABLES:
        env.pop(name, None)
    password = _superuser_password(settings) or ""
    if len(password) < 12:  # too short to tell from other text (it is a weak password anyway): nothing to search
        return
    leaking = sorted(name for name, value in env.items() if password in value)
    if leaking:
        raise SuperuserSecretInEnvironment(
            f"{', '.join(leaking)} would hand the warehouse superuser's password to every Airflow task: unset "
            f"{'it' if len(leaking) == 1 else 'them'} (the metadata DB has its own owner role, "
            f"{settings.airflow_db_owner}; the warehouse roles are Airflow connections)")


def _simple_auth(settings: Settings) -> dict[str, str]:
    """The local runtime's login (the simple auth manager, for development only): the admin and its password file
    (0600, rewritten when the stored password changed). Not written under another auth manager (production: FAB)."""
    passwords_file = settings.airflow_home / "simple_auth_manager_passwords.json"
    wanted = json.dumps({ADMIN_USER: admin_password(settings)})
    if not passwords_file.exists() or passwords_file.read_text() != wanted:
        fd = os.open(passwords_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(wanted)
        passwords_file.chmod(0o600)  # a file an older version created with the default mode
    return {"AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN_USER}:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords_file)}


def airflow_env(settings: Settings | None = None, base: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for every Airflow process of this project (values already set in `base` win), without the
    warehouse server's superuser (`_strip_superuser`): Airflow's metadata DB has its own owner role and the
    warehouse roles are the connections `AIRFLOW_CONN_WAREHOUSE_*`."""
    settings = settings or get_settings()
    home = settings.airflow_home
    home.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ if base is None else base)
    defaults = {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(settings.dags_folder),
        # plugins, and airflow_local_settings (preloads heavy imports for the task processes: include/preload.py)
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(settings.project_root / "include" / "airflow_plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        # Tasks are short (most of the transform's are model tasks reporting a build that is done): 8 at a time
        # and a scheduler that idles 0.25 s between loops keep the gaps between them small; each worker is forked
        # from the scheduler with the heavy libraries preloaded (include/preload.py), so 8 cost little memory.
        "AIRFLOW__CORE__PARALLELISM": "8",
        "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.25",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata_db_url(settings),
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(settings.airflow_port),
        "AIRFLOW__API__BASE_URL": base_url(settings),
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "30",
        # An unchanged DAG file is re-parsed every 5 min, not every 30 s (a parse of the transform DAG costs ~1 CPU-s,
        # all files ~1.7 CPU-s per transform run on 2 cores); a file whose mtime changed is re-parsed at the next
        # folder scan all the same, and `sa dbt-manifest` touches the transform DAG file.
        "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "300",
        "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
        "AIRFLOW__COSMOS__CACHE_DIR": str(settings.local_dir / "cosmos"),
        # No usage telemetry leaves the machine (Cosmos would call an external host after every task).
        "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
        # Browse → "dbt Docs": Cosmos' Airflow 3 plugin serves what support_dbt_docs publishes.
        "AIRFLOW__COSMOS__DBT_DOCS_PROJECTS": dbt_docs_projects(settings),
        # The WATCHER producer never retries (include/transform/cosmos_adapter.py): no per-event XCom backup to a
        # Variable (it re-writes the whole growing backup on every dbt event — most of the producer's overhead).
        "AIRFLOW__COSMOS__ENABLE_WATCHER_RELIABLE_RETRY": "False",
        "DO_NOT_TRACK": "1",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
        "NO_PROXY": "*",
        # The local runtime runs the production schedule; the simulated source systems deliver last night's folder
        # before it (the local-only DAG source_system_simulator, include/source_system.py).
        "SA_SIMULATED_SOURCE": "on",
        # A laptop sleeps at night: the staleness alert is off locally unless set (production default: 26 h).
        "SA_STALE_AFTER_HOURS": "off",
    }
    # The warehouse roles as Airflow connections (warehouse_loader, …), from the secrets store: what tasks connect
    # with (include/warehouse/connections.py); dbt's profile comes from warehouse_transformer through Cosmos.
    defaults.update(airflow_conn_env(settings))
    defaults.update(dbt_project_env(settings))
    # Keys every component shares: generated into the secrets store only when the environment has none (compose
    # and production set them, and must not leave unused generated ones behind).
    if "AIRFLOW__CORE__FERNET_KEY" not in env:
        defaults["AIRFLOW__CORE__FERNET_KEY"] = _fernet_key(settings)
    if "AIRFLOW__API_AUTH__JWT_SECRET" not in env:
        defaults["AIRFLOW__API_AUTH__JWT_SECRET"] = local_secret("airflow_jwt_secret", settings)
    if env.get("AIRFLOW__CORE__AUTH_MANAGER", "").strip() in ("", SIMPLE_AUTH_MANAGER):
        defaults.update(_simple_auth(settings))
    for key, value in defaults.items():
        env.setdefault(key, value)
    if runs_celery(env):  # results go to the metadata DB (Airflow's default: db+ its URL)
        env.setdefault("AIRFLOW__CELERY__BROKER_URL", DEFAULT_BROKER_URL)
    _strip_superuser(env, settings)
    return env


def airflow_cli(args: list[str], settings: Settings | None = None, **kwargs: object) -> subprocess.CompletedProcess:
    """Run the `airflow` CLI of this venv with the project's environment."""
    return subprocess.run([_airflow_bin(), *args], env=airflow_env(settings), check=False, **kwargs)  # type: ignore[call-overload]


def _airflow_bin() -> str:
    return str(Path(sys.executable).with_name("airflow"))


def _run_dir(settings: Settings) -> Path:
    path = settings.airflow_home / "run"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie child of this process counts as dead; the name in "(…)" may contain spaces
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def runs_celery(env: Mapping[str, str]) -> bool:
    """Does Airflow's own `AIRFLOW__CORE__EXECUTOR` (one executor or a comma-separated list, short names or class
    paths) include the CeleryExecutor, so the local runtime must start workers?"""
    configured = env.get("AIRFLOW__CORE__EXECUTOR", "")
    return any(name.strip().rsplit(".", 1)[-1] == "CeleryExecutor" for name in configured.split(","))


def components(settings: Settings, env: Mapping[str, str]) -> dict[str, list[str]]:
    """Every process of the runtime for the environment `env`: name → `airflow` arguments.

    With the CeleryExecutor, `SA_CELERY_WORKERS` workers `celery-worker-<n>` (Celery node `worker<n>@<host>`). They
    share the task-log folder with the api-server, so one log server (the first worker's, Airflow's port 8793) serves
    every task's log; the others skip theirs, which could not bind the same port."""
    found = dict(COMPONENTS)
    if not runs_celery(env):
        return found
    for n in range(1, settings.celery_workers + 1):
        args = ["celery", "worker", "--celery-hostname", f"worker{n}@%h",
                "--concurrency", str(settings.celery_worker_concurrency)]
        found[f"{CELERY_WORKER}-{n}"] = args + (["--skip-serve-logs"] if n > 1 else [])
    return found


def _state(settings: Settings, name: str) -> ComponentState:
    pid_file = _run_dir(settings) / f"{name}.pid"
    pid = int(pid_file.read_text()) if pid_file.exists() else None
    return ComponentState(name, pid if pid is not None and _alive(pid) else None)


def component_states(settings: Settings | None = None) -> list[ComponentState]:
    """The runtime's components, and any other component a pid file names (a worker of an earlier Celery start)."""
    settings = settings or get_settings()
    names = list(components(settings, os.environ))
    names += sorted(p.stem for p in _run_dir(settings).glob("*.pid") if p.stem not in names)
    return [_state(settings, name) for name in names]


def migrate(settings: Settings | None = None) -> None:
    """Create the metadata database on the warehouse server (own database, own owner role) and migrate it."""
    settings = settings or get_settings()
    ensure_metadata_database(settings)
    result = airflow_cli(["db", "migrate"], settings, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"airflow db migrate failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")


def start(settings: Settings | None = None, wait_s: float = 120, *, migrated: bool = False) -> None:
    """Migrate, then start all components; refuse when any of them already runs. `migrated`: the metadata database
    is known to be at this Airflow's schema (a copy of one just migrated): skip `airflow db migrate`, a CLI start
    of 5–20 s."""
    settings = settings or get_settings()
    running = [s for s in component_states(settings) if s.running]
    if running:
        listed = ", ".join(f"{s.name} (pid {s.pid})" for s in running)
        raise AirflowAlreadyRunning(
            f"Airflow is already running for {settings.airflow_home}: {listed}. "
            "Use it at " + base_url(settings) + ", or stop it first with `make airflow-stop`."
        )
    if not migrated:
        migrate(settings)
    env = airflow_env(settings)
    started = {}
    for name, args in components(settings, env).items():
        log_path = _run_dir(settings) / f"{name}.log"
        started[name] = log_path.stat().st_size if log_path.exists() else 0
        log = open(log_path, "ab")  # noqa: SIM115 - handed to the child process
        proc = subprocess.Popen(
            [_airflow_bin(), *args], env=env, stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True, cwd=settings.project_root,
        )
        (_run_dir(settings) / f"{name}.pid").write_text(str(proc.pid))
    wait_healthy(settings, wait_s)
    _wait_workers_ready(settings, {n: o for n, o in started.items() if n.startswith(CELERY_WORKER)}, wait_s)


def _wait_workers_ready(settings: Settings, log_offsets: dict[str, int], timeout_s: float) -> None:
    """Wait until every Celery worker has said `ready.` in its log (connected to the broker, pool started)."""
    deadline = time.monotonic() + timeout_s
    waiting = dict(log_offsets)
    while waiting and time.monotonic() < deadline:
        for name, offset in list(waiting.items()):
            with open(_run_dir(settings) / f"{name}.log", "rb") as log:
                log.seek(offset)
                if b" ready." in log.read():
                    del waiting[name]
        dead = [n for n in waiting if not _state(settings, n).running]
        if dead:
            logs = ", ".join(str(_run_dir(settings) / f"{n}.log") for n in dead)
            raise RuntimeError(f"Celery worker(s) {dead} exited during start-up (is the broker reachable?); see {logs}")
        time.sleep(0.5)
    if waiting:
        raise TimeoutError(f"Celery worker(s) {sorted(waiting)} not ready after {timeout_s:.0f}s "
                           f"(see {_run_dir(settings)})")


def start_chain(settings: Settings | None = None, *, migrated: bool = False) -> AirflowApi:
    """`start`, then wait until the chain's DAGs are parsed and unpause them: a runtime ready to run the chain.
    Returns its REST client; callers `stop` it (also when this raises)."""
    settings = settings or get_settings()
    start(settings, migrated=migrated)
    client = api(settings)
    client.wait_for_dags(list(CHAIN))
    for dag_id in CHAIN:
        client.unpause(dag_id)
    return client


def wait_healthy(settings: Settings | None = None, timeout_s: float = 120) -> dict:
    """Poll `/api/v2/monitor/health` until metadatabase and scheduler report healthy."""
    settings = settings or get_settings()
    deadline = time.monotonic() + timeout_s
    last: object = None
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(base_url(settings) + "/api/v2/monitor/health", timeout=5) as response:
                health = json.load(response)
            last = health
            if all(health.get(k, {}).get("status") == "healthy" for k in ("metadatabase", "scheduler")):
                return health
        except (urllib.error.URLError, ConnectionError, TimeoutError, json.JSONDecodeError) as exc:
            last = exc
        dead = [s.name for s in component_states(settings) if not s.running]
        if dead:
            logs = ", ".join(str(_run_dir(settings) / f"{n}.log") for n in dead)
            raise RuntimeError(f"Airflow component(s) {dead} exited during start-up; see {logs}")
        time.sleep(2)
    raise TimeoutError(f"Airflow was not healthy after {timeout_s:.0f}s (last answer: {last})")


def _runs_tasks(name: str) -> bool:
    return name == "scheduler" or name.startswith(CELERY_WORKER)


def stop(settings: Settings | None = None, timeout_s: float = 60) -> list[str]:
    """SIGTERM the components that run tasks (scheduler, Celery workers) first, then the others, each group's process
    groups SIGKILLed when still alive after `timeout_s`. The API server stays up until the tasks that were running
    have ended: a task that can no longer reach it retries its calls and holds its executor's shutdown."""
    settings = settings or get_settings()
    running = [s for s in component_states(settings) if s.running]
    stopped = []
    for group in ([s for s in running if _runs_tasks(s.name)], [s for s in running if not _runs_tasks(s.name)]):
        _terminate(group, timeout_s)
        stopped += [state.name for state in group]
    for state in component_states(settings):
        (_run_dir(settings) / f"{state.name}.pid").unlink(missing_ok=True)
    return stopped


# A component still running this long after its SIGTERM is sent another (the leader only, not its group). Seen with
# Airflow 3.3's scheduler: the signal arrived while a SQLAlchemy weakref callback ran during garbage collection, its
# handler's `sys.exit(0)` was swallowed there ("Exception ignored in: <function _collection_gced …> … SystemExit: 0")
# and the scheduler kept scheduling until the SIGKILL 60 s later.
TERM_REPEAT_S = 5.0


def _terminate(states: list[ComponentState], timeout_s: float) -> None:
    """SIGTERM each component's process group (the leader again every TERM_REPEAT_S while it lives), then SIGKILL
    what is left after `timeout_s`."""
    for state in states:
        assert state.pid is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(state.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    for state in states:
        assert state.pid is not None
        next_term = time.monotonic() + TERM_REPEAT_S
        while _alive(state.pid) and time.monotonic() < deadline:
            if time.monotonic() >= next_term:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(state.pid, signal.SIGTERM)
                next_term = time.monotonic() + TERM_REPEAT_S
            time.sleep(0.3)
        if _alive(state.pid):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(state.pid, signal.SIGKILL)
