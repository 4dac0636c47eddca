"""The chain on the real scheduler (LocalExecutor), as an engineer runs it, on one Airflow, in file order:

1. a load task SIGKILLed mid-COPY: nothing half-written, its retry lands the same state;
2. a five-day backfill through Airflow's own backfill with alerts on: every day extracted, validated, transformed and
   exported — one transform and one export per day, none merged — no false alarm, and marts equal to a fresh build;
3. the dbt producer SIGKILLed mid-build: dbt, which runs in the producer's process, dies with it, its sessions stop
   and the transform-inputs lock is released within seconds, nothing half-built is left in the marts, a load lands,
   and a new transform run lands the same marts;
4. the run-book's recovery from a failed dbt test: fix the data, clear the failed tasks.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from include.airflow_api import AirflowApi
from include.chain_watch import watch_chain
from include.config import Settings, get_settings
from include.ingest.batch import load_table
from include.pipeline import DBT_PRODUCER_TASK, EXPORT_DAG, EXTRACT_DAG, TRANSFORM_DAG
from include.source_system import deliver_up_to
from include.transform.runner import run_dbt
from include.warehouse.connect import connect
from include.warehouse.locks import lock_state
from tests.airflow_helpers import downstream_runs, source_contents
from tests.receivers import Receivers

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

FIRST, LAST = date(2025, 11, 1), date(2025, 11, 5)
DAYS = [(FIRST + timedelta(days=i)).isoformat() for i in range((LAST - FIRST).days + 1)]
MARTS = ("staging.stg_tickets", "marts.mart_ticket_analytics", "marts.mart_top_root_causes",
         "marts.mart_churned_customers")


@pytest.fixture(scope="module")
def chain(request: pytest.FixtureRequest, monkeypatch_module: pytest.MonkeyPatch,
          landing: Any) -> Iterator[tuple[AirflowApi, Receivers]]:
    """Airflow with the production schedule (backfills need one) and both alert channels on a local receiver."""
    receivers = Receivers()
    receivers.start()
    for name, value in receivers.env().items():
        monkeypatch_module.setenv(name, value)
    monkeypatch_module.setenv("SA_NIGHTLY_SCHEDULE", "0 2 * * *")
    deliver_up_to(LAST)  # the source system delivered 2025-11-04 and -05 too
    api: AirflowApi = request.getfixturevalue("running_airflow")
    yield api, receivers
    receivers.stop()


def _fingerprint(settings: Settings, relations: tuple[str, ...]) -> dict[str, tuple[int, str]]:
    """Row count and a hash of every row (in a stable order) of each relation."""
    out = {}
    with connect("admin", settings) as conn:
        for relation in relations:
            rows = conn.execute(f"select t::text from {relation} t order by 1").fetchall()
            out[relation] = (len(rows), hashlib.sha256("\n".join(r[0] for r in rows).encode()).hexdigest())
    return out


def _kill_when(settings: Settings, sql: str, timeout_s: float = 180) -> tuple[int, str]:
    """SIGKILL the process behind the first session matching `sql` (returns pid and what it was running)."""
    deadline = time.monotonic() + timeout_s
    with connect("admin", settings, autocommit=True) as conn:
        while time.monotonic() < deadline:
            row = conn.execute(sql).fetchone()
            if row:
                pid, query = int(row[0]), str(row[1])
                os.kill(pid, signal.SIGKILL)
                return pid, query
            time.sleep(0.005)
    raise TimeoutError(f"nothing matched: {sql}")


def test_a_load_killed_mid_copy_leaves_nothing_half_written_and_its_retry_lands_the_same_state(chain) -> None:  # type: ignore[no-untyped-def]
    api, receivers = chain
    settings = get_settings()
    clean = source_contents(settings)  # history as the fixture landed it
    run_id = api.trigger(EXTRACT_DAG, conf={"batch": "history"})  # re-land history: seconds of COPY at scale 1
    _, query = _kill_when(settings, "select split_part(application_name, ':', 3), query from pg_stat_activity"
                                      " where application_name like 'support-analytics:loader:%'"
                                      " and state = 'active' and query ilike 'copy %from stdin%'")
    run = api.wait_for_run(EXTRACT_DAG, run_id, timeout_s=600)
    tries = {t["task_id"]: t["try_number"] for t in api.task_instances(EXTRACT_DAG, run_id)}
    assert run["state"] == "success" and max(tries.values()) == 2, (query, tries)  # the killed load's retry
    assert source_contents(settings) == clean, "the killed and retried load must land what a clean load lands"
    with connect("loader", settings) as conn:
        assert conn.execute("select count(*) from audit.load_batches where batch_id = 'history'"
                            " and status <> 'success'").fetchone()[0] == 0
    downstream = downstream_runs(api, "history")  # the history batch's own transform and export
    assert {dag_id: r["state"] for dag_id, r in downstream.items()} == {TRANSFORM_DAG: "success", EXPORT_DAG: "success"}
    receivers.clear()


def test_a_five_day_backfill_runs_every_day_once_in_order_without_a_false_alarm(chain) -> None:  # type: ignore[no-untyped-def]
    api, receivers = chain
    since = datetime.now(UTC)
    backfill = api.create_backfill(EXTRACT_DAG, f"{FIRST}T00:00:00+00:00", f"{LAST}T23:59:59+00:00")
    runs = watch_chain(api, since, backfill, timeout_s=1200, poll_s=1.0)
    states = {dag_id: [(r.get("partition_key") or str(r.get("logical_date"))[:10], r["state"]) for r in dag_runs]
              for dag_id, dag_runs in runs.items()}
    assert sorted(day for day, _ in states[EXTRACT_DAG]) == DAYS, states
    for dag_id in (TRANSFORM_DAG, EXPORT_DAG):  # one run per day, keyed by the day, in date order
        assert [day for day, _ in states[dag_id]] == DAYS, states
    assert all(state == "success" for dag_runs in states.values() for _, state in dag_runs), states
    receivers.wait(mails=1, posts=1, timeout_s=3)
    assert receivers.posts == [] and receivers.mails == [], "a clean backfill must not alert"

    settings = get_settings()
    for day in DAYS:  # one export per day, with that day's lists
        manifest = json.loads((Path(settings.export_root) / day / "manifest.json").read_text())
        with connect("admin", settings) as conn:
            churned = conn.execute("select count(*) from marts.churn_list_snapshots where as_of_date = %s"
                                   " and in_churned_customers", (day,)).fetchone()[0]
        assert manifest["as_of_date"] == day and manifest["files"]["churned_customers.csv"]["rows"] == churned > 0

    after_backfill = _fingerprint(settings, MARTS)
    with connect("admin", settings) as conn:
        assert conn.execute("select distinct as_of_date::text from marts.mart_churned_customers").fetchall() == \
            [(DAYS[-1],)], "the last transform is the last day's"
    fresh = run_dbt(["run", "--full-refresh", "--vars", f"{{as_of_date: '{DAYS[-1]}'}}", "--exclude",
                     "churn_list_snapshots"], settings, target_path=settings.local_dir / "dbt-fresh")
    assert fresh.success, fresh.summary()
    assert _fingerprint(settings, MARTS) == after_backfill, "the marts must equal a fresh build of the final state"


def test_a_producer_killed_mid_build_leaves_nothing_half_built_and_a_new_run_lands_the_same_marts(chain) -> None:  # type: ignore[no-untyped-def]
    api, receivers = chain
    settings = get_settings()
    clean = _fingerprint(settings, MARTS)
    run_id = api.trigger(TRANSFORM_DAG, conf={"as_of_date": DAYS[-1]})
    producer_pid = _dbt_building(settings, "mart_ticket_analytics")
    os.kill(producer_pid, signal.SIGKILL)  # the producer task dies, and dbt, running in its process, with it

    with connect("admin", settings, autocommit=True) as conn:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and (_dbt_holds_the_lock(conn, producer_pid) or _dbt_sessions(conn)):
            time.sleep(0.1)
        assert not _dbt_holds_the_lock(conn, producer_pid), "the lock outlived the killed dbt"
        assert not _dbt_sessions(conn), "dbt's sessions went on after their process was killed"
    assert _fingerprint(settings, MARTS) == clean, "the killed build left a half-built mart behind"
    load = threading.Thread(target=load_table, args=(DAYS[-1], "support_tickets", settings))
    load.start()  # re-lands a day's tickets: nothing holds the lock any more
    load.join(timeout=120)
    assert not load.is_alive(), "a load waited for a dbt build that was killed"
    assert api.wait_for_run(TRANSFORM_DAG, run_id, timeout_s=600)
    states = {t["task_id"]: t["state"] for t in api.task_instances(TRANSFORM_DAG, run_id)}
    assert states[DBT_PRODUCER_TASK] == "failed", states

    rerun = api.trigger(TRANSFORM_DAG, conf={"as_of_date": DAYS[-1]})
    assert api.wait_for_run(TRANSFORM_DAG, rerun, timeout_s=600)["state"] == "success"
    assert _fingerprint(settings, MARTS) == clean, "a new run after the kill lands the marts a clean build lands"
    receivers.clear()


def _dbt_building(settings: Settings, model: str, timeout_s: float = 180) -> int:
    """The pid of the process running `dbt build` (it names itself in its lock session: the producer task's) once dbt
    is building `model`."""
    deadline = time.monotonic() + timeout_s
    with connect("admin", settings, autocommit=True) as conn:
        while time.monotonic() < deadline:
            row = conn.execute(
                "select substring(a.application_name from 'pid ([0-9]+)') from pg_stat_activity a"
                " where a.application_name like 'sa-dbt build%%' and exists (select from pg_stat_activity d"
                " where d.application_name = 'dbt' and d.query ilike %s)", (f"%{model}%",)).fetchone()
            if row:
                return int(row[0])
            time.sleep(0.01)
    raise TimeoutError(f"the producer's dbt build was never seen building {model}")


def _dbt_sessions(conn: Any) -> int:
    """dbt's own sessions (each names itself `dbt`) still open."""
    return int(conn.execute("select count(*) from pg_stat_activity where application_name = 'dbt'").fetchone()[0])


def _dbt_holds_the_lock(conn: Any, dbt_pid: int) -> bool:
    """Does the dbt run in process `dbt_pid` hold the transform-inputs lock?"""
    backends = {r[0] for r in conn.execute("select pid from pg_stat_activity where application_name like %s",
                                           (f"sa-dbt % (pid {dbt_pid})",))}
    return any(s["granted"] and s["mode"] == "ExclusiveLock" and s["pid"] in backends for s in lock_state(conn))


def test_failed_dbt_test_then_fix_and_clear_rebuilds_and_publishes(chain) -> None:  # type: ignore[no-untyped-def]
    api, _ = chain
    settings = get_settings()
    exports_before = len(api.runs(EXPORT_DAG))
    with connect("admin", settings) as conn:  # a value only a dbt test catches once it is past the gate
        conn.execute("update analytics.customer_products set monthly_revenue = -5 where holding_id ="
                     " (select min(holding_id) from analytics.customer_products)")
    try:
        # written behind the extract (no new load): only the full check, asked for in the conf, tests every row
        run_id = api.trigger(TRANSFORM_DAG, conf={"as_of_date": DAYS[-1], "full_tests": True})
        run = api.wait_for_run(TRANSFORM_DAG, run_id, timeout_s=600)
        states = {t["task_id"]: t["state"] for t in api.task_instances(TRANSFORM_DAG, run_id)}
        assert run["state"] == "failed", states
        assert states[DBT_PRODUCER_TASK] == "failed" and states["stg_customer_products"] == "failed"
        assert states["mart_churned_customers"] == "upstream_failed", states
    finally:
        with connect("admin", settings) as conn:
            conn.execute("update analytics.customer_products set monthly_revenue = 5 where monthly_revenue < 0")
    time.sleep(5)
    assert len(api.runs(EXPORT_DAG)) == exports_before, "no export on a mart whose tests did not run"

    assert api.clear_failed(TRANSFORM_DAG, run_id) >= 3  # producer, stg_customer_products, the churn mart
    run = api.wait_for_run(TRANSFORM_DAG, run_id, timeout_s=600)
    tis = {t["task_id"]: t for t in api.task_instances(TRANSFORM_DAG, run_id)}
    assert run["state"] == "success", {k: t["state"] for k, t in tis.items()}
    assert tis[DBT_PRODUCER_TASK]["state"] == "skipped"  # Cosmos never re-runs the whole build on a clear
    assert tis["stg_customer_products"]["try_number"] == 2  # it ran `dbt build` for its model itself
    assert tis["mart_churned_customers"]["state"] == "success"
    deadline = time.monotonic() + 300  # the rebuilt lists' Asset runs the export of that date
    while time.monotonic() < deadline and len(api.runs(EXPORT_DAG)) == exports_before:
        time.sleep(1)
    newest = api.runs(EXPORT_DAG)[-1]
    assert newest["partition_key"] == DAYS[-1]
    assert api.wait_for_run(EXPORT_DAG, newest["dag_run_id"], timeout_s=300)["state"] == "success"
