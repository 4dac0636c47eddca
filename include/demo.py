"""`make demo`: the main job on the embedded default, end to end, idempotently.

1. start and bootstrap the embedded warehouse (or use WAREHOUSE_URL);
2. generate the source systems' extracts into the landing zone (deterministic; skipped when already there);
3. land the history folder (bootstrap, no DAG run per historical day);
4. start the local Airflow (or reuse the one already running);
5. run the nightly chain for the demo days through real DAG runs and wait for it;
6. print where everything is.
"""

from __future__ import annotations

import os
import sys
import time
import warnings
from datetime import date, timedelta
from typing import Any

from include.airflow_api import AirflowApi
from include.config import Settings, get_settings
from include.pipeline import CHAIN, EXTRACT_DAG

DEMO_START = date(2025, 11, 1)
DEMO_DAYS = 3
SIMULATED_END = date(2025, 11, 7)  # the landing zone holds every simulated day; the demo runs the first DEMO_DAYS


def _step(message: str) -> None:
    print(f"\n==> {message}", flush=True)


def ensure_landing(settings: Settings, end: date) -> None:
    from include.ingest.manifest import is_complete
    from include.simulator import generate

    wanted = ["history"] + [(DEMO_START + timedelta(days=i)).isoformat() for i in range((end - DEMO_START).days + 1)]
    if all(is_complete(settings.landing_root / name) for name in wanted):
        print(f"landing zone already has {wanted[0]}, {wanted[1]} … {wanted[-1]} in {settings.landing_root}")
        return
    report = generate(settings.landing_root, start=DEMO_START, end=end)
    print(f"generated {report.total_rows:,} rows in {len(report.folders)} folders ({report.wall_seconds:.1f}s)")


def run_chain(api: AirflowApi, first: date, last: date) -> None:
    """Run support_extract for each demo day; the Asset chain runs transform and export by itself.

    A second `make demo` re-runs the same days (clearing their runs): loads are idempotent."""
    before = {dag_id: {r["dag_run_id"] for r in api.runs(dag_id)} for dag_id in CHAIN}
    started = time.time()
    for dag_id in CHAIN:
        api.unpause(dag_id)
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    run_ids = [api.run_for_logical_date(EXTRACT_DAG, f"{day.isoformat()}T02:00:00+00:00") for day in days]
    print(f"support_extract runs for {first} … {last} queued (one at a time); waiting for the chain (a few minutes)")
    for run_id in run_ids:
        api.wait_for_run(EXTRACT_DAG, run_id)
    for dag_id in CHAIN:
        runs = _settle(api, dag_id)
        fresh = [r for r in runs if r["dag_run_id"] not in before[dag_id] or _ended_after(r, started)]
        if not fresh:
            raise SystemExit(f"{dag_id} did not run: is it paused, or did the Asset chain break? See the UI.")
        _report(dag_id, fresh)


def _ended_after(run: dict[str, Any], started: float) -> bool:
    from datetime import datetime

    end = run.get("end_date")
    return bool(end) and datetime.fromisoformat(end.replace("Z", "+00:00")).timestamp() >= started


def _settle(api: AirflowApi, dag_id: str) -> list[dict[str, Any]]:
    """Asset events that arrive while a run is going start another: wait until none is queued or running."""
    deadline = time.monotonic() + 900
    while True:
        time.sleep(10)
        runs = api.runs(dag_id)
        if all(r["state"] in ("success", "failed") for r in runs):
            return runs
        if time.monotonic() > deadline:
            raise SystemExit(f"{dag_id} still has unfinished runs after 15 minutes: see the Airflow UI")


def _report(dag_id: str, runs: list[dict[str, Any]]) -> None:
    for run in runs:
        print(f"  {dag_id:22} {run['dag_run_id']:58} {run['state']}")
    if any(r["state"] != "success" for r in runs):
        raise SystemExit(f"{dag_id} has failed runs: open the Airflow UI and read the failed task's log")


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

    settings = get_settings()
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
    from include.transform.runner import run_dbt
    from include.warehouse import bootstrap, embedded

    last = DEMO_START + timedelta(days=DEMO_DAYS - 1)

    _step("warehouse")
    if settings.is_embedded:
        print(embedded.start(settings).describe())
    bootstrap.bootstrap(settings)

    _step(f"source systems → landing zone ({settings.landing_root})")
    ensure_landing(settings, SIMULATED_END)

    _step("bootstrap: land the history folder (no DAG run per historical day)")
    for result in load_batch("history", settings):
        print(f"  analytics.{result.table:18} {result.rows_in:>8,} rows ({result.seconds:.1f}s)")

    _step("Airflow")
    if all(s.running for s in airflow_local.component_states(settings)):
        print(f"already running at {airflow_local.base_url(settings)}")
        airflow_local.wait_healthy(settings)
    else:
        airflow_local.start(settings)
    api = AirflowApi(airflow_local.base_url(settings), airflow_local.ADMIN_USER, airflow_local.ADMIN_PASSWORD)
    api.wait_for_dags(list(CHAIN))

    _step(f"nightly chain for {DEMO_START} … {last}: extract → validation → transform → export")
    run_chain(api, DEMO_START, last)

    _step("dbt docs")
    docs = run_dbt(["docs", "generate"], settings)
    print(docs.summary())

    _step("results")
    _print_results(settings)
    parts = settings.connection_parts()
    psql = f"psql -h {parts['host']} -p {parts['port']} -U {settings.roles.reader} {parts['dbname']}"
    where = [
        ("serving (reader role)", f"{psql}   (password: reader_password in {settings.secrets_file})"),
        ("churn exports", f"{settings.export_root}/<as-of date>/  (CSV, Parquet, manifest.json)"),
        ("dbt docs", f"{settings.dbt_project_dir / 'target' / 'index.html'}  (or: cd dbt && dbt docs serve)"),
        ("GX data docs", str(settings.gx_root / "uncommitted" / "data_docs" / "local_site" / "index.html")),
        ("load log, quarantine", "audit.load_batches, audit.quarantine, audit.validation_results"),
        ("Airflow UI", f"{airflow_local.base_url(settings)}  (login {airflow_local.ADMIN_USER} / "
                       f"{airflow_local.ADMIN_PASSWORD})"),
        ("stop everything", "make stop"),
    ]
    print("\nWhere things are")
    for label, value in where:
        print(f"  {label:22} {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
