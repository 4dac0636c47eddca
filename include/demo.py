"""`make demo`: the main job on the embedded default, end to end, idempotently.

1. start and bootstrap the embedded warehouse (or use WAREHOUSE_URL);
2. the simulated source systems: a landing zone current up to yesterday (history + the last days; deterministic);
3. land the history folder (bootstrap, no DAG run per historical day);
4. start the local Airflow (or reuse the one already running);
5. Airflow's own backfill of the last days through the real scheduler — each validated day runs its transform and
   export — shown as it happens; the chain and the local source system are then left on their nightly schedule;
6. print where everything is.
"""

from __future__ import annotations

import os
import sys
import warnings
from datetime import UTC, date, datetime

from include.airflow_api import AirflowApi
from include.config import Settings, SettingsError, get_settings
from include.contract import HISTORY
from include.pipeline import CHAIN, DBT_DOCS_SLUG, DOCS_DAG, EXTRACT_DAG, SOURCE_DAG


def _step(message: str) -> None:
    print(f"\n==> {message}", flush=True)


def run_chain(api: AirflowApi, first: date, last: date) -> None:
    """Backfill support_extract for first..last (re-running days that ran before: loads are idempotent), then let
    the Assets run each day's transform and export; print every run's progress."""
    from include.chain_watch import watch_chain

    since = datetime.now(UTC)
    backfill = api.create_backfill(EXTRACT_DAG, f"{first.isoformat()}T00:00:00+00:00",
                                   f"{last.isoformat()}T23:59:59+00:00")
    for dag_id in (*CHAIN, SOURCE_DAG):  # after the backfill exists: its days run first, in order
        api.unpause(dag_id)
    print(f"backfill {backfill['id']}: {EXTRACT_DAG} {first} … {last}, one day at a time; progress:")
    runs = watch_chain(api, since, backfill)
    failed = [f"{dag_id} {r['dag_run_id']}" for dag_id, dag_runs in runs.items() for r in dag_runs
              if r["state"] != "success"]
    for dag_id in CHAIN:
        if not runs[dag_id]:
            raise SystemExit(f"{dag_id} did not run: is it paused, or did the Asset chain break? See the UI.")
    if failed:
        raise SystemExit(f"failed runs: {failed}; open the Airflow UI and read the failed task's log")


def _print_results(settings: Settings) -> None:
    from include.warehouse.connect import connect

    with connect("reader", settings) as conn:
        top = conn.execute(
            "select root_cause_name, category_name, total_tickets, pct_of_period, pct_open"
            " from serving.mart_top_root_causes where created_year = 2025 and created_month = 10"
            " order by total_tickets desc limit 5").fetchall()
        churn = conn.execute(
            "select as_of_date, count(*) filter (where is_churned_30d), count(*) filter (where is_churned_90d)"
            " from serving.mart_churned_customers group by 1").fetchone()
    print("Top 5 root causes, October 2025 (serving.mart_top_root_causes):")
    for row in top:
        print(f"  {row[0][:38]:38} {row[1][:20]:20} {row[2]:>5} tickets {row[3]:>6}% of month {row[4]:>6}% open")
    print(f"Churn as of {churn[0]}: {churn[1]:,} churned in the last 30 days, {churn[2]:,} in the last 90 days")


def main() -> int:
    import fcntl

    try:
        settings = get_settings()
    except SettingsError as exc:
        print(f"make demo: configuration error: {exc}", file=sys.stderr)
        return 2
    settings.local_dir.mkdir(parents=True, exist_ok=True)
    lock_path = settings.local_dir / "demo.lock"
    with open(lock_path, "a+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            print(f"make demo is already running (pid {lock.read().strip() or '?'}, lock {lock_path}): "
                  "wait for it to finish, or watch it in the Airflow UI.", file=sys.stderr)
            return 2
        lock.seek(0)
        lock.truncate()
        lock.write(str(os.getpid()))
        lock.flush()
        return _demo(settings)


def _demo(settings: Settings) -> int:
    warnings.filterwarnings("ignore")
    from include import airflow_local
    from include.ingest.batch import load_batch
    from include.source_system import prepare_landing
    from include.transform.docs import publish_dbt_docs
    from include.warehouse import bootstrap, embedded

    _step("warehouse")
    if settings.is_embedded:
        print(embedded.start(settings).describe())
    bootstrap.bootstrap(settings)

    _step(f"source systems → landing zone ({settings.landing_root})")
    days = prepare_landing(settings)
    print(f"landing zone current up to {days[-1]} (history from 2025-01-01); the demo runs {days[0]} … {days[-1]}")

    _step("bootstrap: land the history folder (no DAG run per historical day)")
    for result in load_batch(HISTORY, settings):
        print(f"  analytics.{result.table:18} {result.rows_in:>8,} rows ({result.seconds:.1f}s)")

    _step("Airflow")
    login = airflow_local.first_login_notice(settings)  # before start, which generates the password
    if all(s.running for s in airflow_local.component_states(settings)):
        print(f"already running at {airflow_local.base_url(settings)}")
        airflow_local.wait_healthy(settings)
    else:
        airflow_local.start(settings)
    api = airflow_local.api(settings)
    api.wait_for_dags([*CHAIN, SOURCE_DAG])

    _step(f"nightly chain for {days[0]} … {days[-1]}: extract → validation → transform → export")
    run_chain(api, days[0], days[-1])

    _step("dbt docs for the UI (then after every transform: support_dbt_docs)")
    published = publish_dbt_docs(settings)
    print(f"{published.nodes} relations documented in {published.directory} ({published.seconds}s)")
    api.unpause(DOCS_DAG)

    _step("results")
    _print_results(settings)
    parts = settings.connection_parts()
    psql = f"psql -h {parts['host']} -p {parts['port']} -U {settings.roles.reader} {parts['dbname']}"
    base = airflow_local.base_url(settings)
    where = [
        ("serving (reader role)", f"{psql}   (password: reader_password in {settings.secrets_file})"),
        ("churn exports", f"{settings.export_root}/<as-of date>/  (CSV, Parquet, manifest.json)"),
        ("Support KPIs", f"{base}/plugin/support-kpis  (Browse → Support KPIs: charts over the marts)"),
        ("dbt docs", f"{base}/cosmos/{DBT_DOCS_SLUG}/dbt_docs_index.html  (Browse → dbt Docs)"),
        ("GX data docs", f"{base}/plugin/gx-data-docs  (Browse → GX Data Docs; renders offline)"),
        ("load log, quarantine", "audit.load_batches, audit.quarantine, audit.validation_results"),
        ("Airflow UI", f"{base}  ({login})"),
        ("nightly schedule", f"{EXTRACT_DAG} next runs {api.dag(EXTRACT_DAG).get('next_dagrun_run_after')} "
                             f"({settings.nightly_schedule} UTC), after {SOURCE_DAG} delivers last night (local only)"),
        ("stop everything", "make stop"),
    ]
    print("\nWhere things are")
    for label, value in where:
        print(f"  {label:22} {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
