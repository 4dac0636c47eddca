"""`sa` — the project's command line: warehouse and Airflow lifecycle, used by the Makefile and the README.

    sa warehouse start|stop|status|bootstrap
    sa warehouse backup DIR                   (pg_dump of the warehouse + Airflow's metadata DB, the roles, a manifest)
    sa warehouse restore DIR [--into DB] [--airflow-into DB]   (roles first, then pg_restore into new/empty DBs)
    sa airflow start|stop|status|migrate
    sa airflow-cli -- <airflow CLI args>     (runs `airflow` with the project's environment)
    sa dbt -- <dbt args>                      (dbt on the configured warehouse as the transformer, e.g.
                                               `sa dbt -- build --select stg_tickets+`; waits for running loads)
    sa load <history|YYYY-MM-DD> ...          (lands batch folders of the landing zone, as the DAG does)
    sa validate <history|YYYY-MM-DD> ...      (runs the Great Expectations gate on landed batches)
    sa backfill FROM TO [--wait]              (Airflow's backfill of support_extract FROM..TO; --wait shows progress)
    sa dbt-manifest                           (dbt parse → dbt/target/manifest.json, which Cosmos renders)
    sa gx-setup                               (great_expectations/ ← the contract; a new table needs the warehouse)
    sa gx-assets                              (the CSS/JS GX data docs use, from the npm registry, for offline pages)
    sa mcp [--http [--host H] [--port P]]     (the MCP server: stdio, or streamable HTTP on 127.0.0.1:8765/mcp)
    sa freshness                              (are the marts fresh? exit 1 when stale; for a monitor outside Airflow)
    sa env                                    (prints the resolved settings, secrets masked)

Each command imports what it needs when it runs (Airflow, dbt, GX are slow to import): `sa env` stays instant.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from datetime import UTC, date, datetime
from pathlib import Path

from include.airflow_api import AirflowUnreachable
from include.config import (
    ALL_SCHEMAS,
    KNOWN_SECRETS,
    Settings,
    SettingsError,
    displayed,
    get_settings,
    secret_source,
    stored_secret_names,
)


def _warehouse(action: str, settings: Settings) -> int:
    from include.warehouse import bootstrap, embedded

    if action in ("start", "bootstrap") and settings.is_embedded:
        print(embedded.start(settings).describe())
    if action == "stop":
        if not settings.is_embedded:
            print("WAREHOUSE_URL points at an external server: nothing to stop")
            return 0
        print(embedded.stop(settings).describe())
    if action == "status":
        if settings.is_embedded:
            state = embedded.status(settings)
            print(state.describe())
            return 0 if state.running else 3
        print(f"external warehouse: {displayed('admin_url', settings.admin_url())}")
    if action == "bootstrap":
        created = bootstrap.bootstrap(settings)
        print("warehouse bootstrapped" + (f" (created {', '.join(created)})" if created else " (nothing new)"))
        print(f"  database {settings.warehouse_db} at {displayed('admin_url', settings.admin_url())}")
        print(f"  roles {', '.join(settings.roles.all())}; schemas {', '.join(ALL_SCHEMAS)}")
    return 0


def _backup_restore(args: argparse.Namespace, settings: Settings) -> int:
    """`sa warehouse backup|restore`: one line on stderr, no traceback, for what an operator can fix."""
    import psycopg

    from include.warehouse import backup, embedded

    if settings.is_embedded:
        embedded.start(settings)
    try:
        if args.action == "backup":
            manifest = backup.backup(settings, args.dir)
            print("\n".join(backup.describe(manifest, args.dir)))
        else:
            lines = backup.restore(settings, args.dir, into=args.into, airflow_into=args.airflow_into)
            print(f"restored from {args.dir} onto {displayed('admin_url', settings.admin_url('postgres'))}")
            print("\n".join(f"  {line}" for line in lines))
    except backup.BackupError as exc:
        print(f"sa warehouse {args.action}: {exc}", file=sys.stderr)
        return 1
    except psycopg.Error as exc:
        print(f"sa warehouse {args.action}: {str(exc).strip().splitlines()[0]}", file=sys.stderr)
        return 1
    return 0


def _airflow(action: str, settings: Settings) -> int:
    from include import airflow_local

    if action == "start":
        login = airflow_local.first_login_notice(settings)  # before start, which generates the password
        try:
            airflow_local.start(settings)
        except airflow_local.AirflowAlreadyRunning as exc:
            print(exc, file=sys.stderr)
            return 2
        print(f"Airflow is up at {airflow_local.base_url(settings)}  ({login})")
        print(f"  logs and pid files: {settings.airflow_home / 'run'}; stop with `make airflow-stop`")
    elif action == "stop":
        stopped = airflow_local.stop(settings)
        print("stopped " + (", ".join(stopped) if stopped else "nothing (Airflow was not running)"))
    elif action == "status":
        states = airflow_local.component_states(settings)
        for state in states:
            print(f"  {state.name:14} {'running, pid ' + str(state.pid) if state.running else 'stopped'}")
        return 0 if all(s.running for s in states) else 3
    elif action == "migrate":
        airflow_local.migrate(settings)
        print(f"Airflow metadata database {settings.airflow_db} migrated")
    return 0


def _load(batches: list[str], settings: Settings) -> int:
    from include.ingest.batch import load_batch
    from include.ingest.errors import LoadError

    for batch_id in batches:
        try:
            results = load_batch(batch_id, settings)
        except LoadError as exc:
            print(f"{batch_id}: FAILED — {exc}", file=sys.stderr)
            return 1
        rows = sum(r.rows_loaded for r in results)
        quarantined = sum(r.rows_quarantined for r in results)
        seconds = sum(r.seconds for r in results)
        print(f"{batch_id}: {rows} rows landed, {quarantined} quarantined, {seconds:.1f}s")
    return 0


def _validate(batches: list[str], settings: Settings) -> int:
    from include.quality.validate import ValidationFailed, validate_batch

    for batch_id in batches:
        try:
            reports = validate_batch(batch_id, settings)
        except ValidationFailed as exc:
            print(f"{batch_id}: {exc}", file=sys.stderr)
            return 1
        print(f"{batch_id}: {sum(len(r.outcomes) for r in reports)} expectations passed")
    return 0


def _backfill(first: date, last: date, wait: bool, settings: Settings) -> int:
    """Airflow's own backfill of support_extract for first..last (one run at a time, oldest first, re-running days
    that already ran); each validated day then runs its own transform and export. A thin wrapper over the REST API:
    the same as the UI's backfill dialog or `airflow backfill create`."""
    from include import airflow_local
    from include.airflow_api import AirflowApiError
    from include.chain_watch import watch_chain
    from include.pipeline import EXTRACT_DAG

    api = airflow_local.api(settings)
    since = datetime.now(UTC)
    try:
        backfill = api.create_backfill(EXTRACT_DAG, f"{first.isoformat()}T00:00:00+00:00",
                                       f"{last.isoformat()}T23:59:59+00:00")
    except AirflowApiError as exc:
        print(f"backfill not created: {exc}", file=sys.stderr)
        return 2
    print(f"backfill {backfill['id']} of {EXTRACT_DAG}: {first} … {last}, one day at a time (days that already ran "
          "run again); each validated day runs its transform and export")
    if not wait:
        return 0
    runs = watch_chain(api, since, backfill)
    failed = [(dag_id, r["dag_run_id"]) for dag_id, dag_runs in runs.items() for r in dag_runs
              if r["state"] != "success"]
    total = sum(len(dag_runs) for dag_runs in runs.values())
    print(f"{total - len(failed)} of {total} runs succeeded" + (f"; failed: {failed}" if failed else ""))
    return 0 if not failed else 1


def _dbt(args: list[str], settings: Settings) -> int:
    """dbt with the project's profile as the transformer role, through `sa-dbt` like the transform (so it never
    builds while a load lands rows). Project and profiles dir default to `dbt/`; its target dir stays `dbt/target`."""
    import subprocess

    from include.transform.dbt_env import dbt_env, locked_dbt_executable

    if not args:
        print("usage: sa dbt -- <dbt command and flags>, e.g. sa dbt -- build --select stg_tickets+",
              file=sys.stderr)
        return 2
    env = {**os.environ, **dbt_env(settings)}
    return subprocess.run([locked_dbt_executable(), *args], env=env, cwd=settings.dbt_project_dir,
                          check=False).returncode


def _print_env(settings: Settings) -> int:
    """Every resolved setting, secrets masked; then where each secret comes from (never its value)."""
    for key, value in sorted(vars(settings).items()):
        print(f"{key:26} {displayed(key, value)}")
    print(f"{'admin_url':26} {displayed('admin_url', settings.admin_url())}")
    print("secrets (values never printed):")
    for name in sorted(set(stored_secret_names(settings)) | set(KNOWN_SECRETS)):
        print(f"  {name:24} {secret_source(name, settings) or 'not generated yet'}")
    return 0


def main(argv: list[str] | None = None) -> int:
    warnings.filterwarnings("ignore", module="platformdirs")
    parser = argparse.ArgumentParser(prog="sa", description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    warehouse = sub.add_parser("warehouse").add_subparsers(dest="action", required=True)
    for action in ("start", "stop", "status", "bootstrap"):
        warehouse.add_parser(action)
    warehouse.add_parser("backup", help="pg_dump the warehouse and Airflow's metadata DB into DIR").add_argument(
        "dir", type=Path, help="a new directory (refused if it already holds a backup)")
    restore = warehouse.add_parser("restore", help="restore a backup: roles, then each database")
    restore.add_argument("dir", type=Path, help="a directory written by `sa warehouse backup`")
    restore.add_argument("--into", metavar="DATABASE", help="restore the warehouse as this new (or empty) database; "
                         "then Airflow's metadata DB only with --airflow-into")
    restore.add_argument("--airflow-into", metavar="DATABASE", help="restore Airflow's metadata DB as this database")
    sub.add_parser("airflow").add_argument("action", choices=["start", "stop", "status", "migrate"])
    dbt = sub.add_parser("dbt")
    dbt.add_argument("args", nargs=argparse.REMAINDER)
    cli = sub.add_parser("airflow-cli")
    cli.add_argument("args", nargs=argparse.REMAINDER)
    sub.add_parser("load").add_argument("batches", nargs="+", help="history or YYYY-MM-DD")
    sub.add_parser("validate").add_argument("batches", nargs="+", help="history or YYYY-MM-DD")
    backfill = sub.add_parser("backfill")
    backfill.add_argument("first", type=date.fromisoformat)
    backfill.add_argument("last", type=date.fromisoformat)
    backfill.add_argument("--wait", action="store_true", help="wait until every extract run finished")
    sub.add_parser("dbt-manifest")
    sub.add_parser("gx-setup")
    sub.add_parser("gx-assets")
    mcp = sub.add_parser("mcp", help="the MCP server (stdio; --http for streamable HTTP)")
    mcp.add_argument("--http", action="store_true", help="streamable HTTP instead of stdio")
    mcp.add_argument("--host", help="HTTP address (default SA_MCP_HOST, 127.0.0.1; elsewhere needs a bearer token)")
    mcp.add_argument("--port", type=int, help="HTTP port (default SA_MCP_PORT, 8765)")
    sub.add_parser("freshness")
    sub.add_parser("env")
    args = parser.parse_args(argv)
    try:
        settings = get_settings()
    except SettingsError as exc:
        print(f"sa: configuration error: {exc}", file=sys.stderr)
        return 2
    try:
        return _dispatch(args, settings)
    except AirflowUnreachable as exc:
        print(f"sa: {exc}", file=sys.stderr)
        return 2


def _dispatch(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "warehouse":
        if args.action in ("backup", "restore"):
            return _backup_restore(args, settings)
        return _warehouse(args.action, settings)
    if args.command == "airflow":
        return _airflow(args.action, settings)
    if args.command == "airflow-cli":
        from include.airflow_local import airflow_cli

        forwarded = args.args[1:] if args.args[:1] == ["--"] else args.args
        return airflow_cli(forwarded, settings).returncode
    if args.command == "dbt":
        return _dbt(args.args[1:] if args.args[:1] == ["--"] else args.args, settings)
    if args.command == "load":
        return _load(args.batches, settings)
    if args.command == "validate":
        return _validate(args.batches, settings)
    if args.command == "backfill":
        return _backfill(args.first, args.last, args.wait, settings)
    if args.command == "dbt-manifest":
        from include.pipeline import TRANSFORM_DAG
        from include.transform.runner import build_manifest

        print(f"dbt manifest written to {build_manifest(settings)}")
        # A running dag-processor re-parses a DAG file whose mtime changed at its next folder scan (~30 s), others
        # only every min_file_process_interval: the transform DAG renders this manifest.
        transform_dag_file = settings.dags_folder / f"{TRANSFORM_DAG}.py"
        if transform_dag_file.exists():
            transform_dag_file.touch()
        return 0
    if args.command == "mcp":
        from include.mcp_server import run

        if args.http:
            run.serve_http(settings, args.host, args.port)
        else:
            run.serve_stdio(settings)
        return 0
    if args.command == "freshness":
        from include.freshness import check

        freshness = check(settings)
        print(("STALE: " if freshness.stale else "fresh: ") + freshness.describe())
        return 1 if freshness.stale else 0
    if args.command == "gx-setup":
        from include.quality.project import ensure_project

        ensure_project(settings)
        print(f"Great Expectations project complete in {settings.gx_root}")
        return 0
    if args.command == "gx-assets":
        from include.quality.data_docs import fetch_assets

        print(f"GX data docs assets in {fetch_assets(settings)} (sha512-checked)")
        return 0
    return _print_env(settings)


if __name__ == "__main__":
    sys.exit(main())
