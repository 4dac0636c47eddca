"""The production topology run natively: CeleryExecutor with two workers, Redis, and the external PostgreSQL 15.

Scheduler, dag-processor, triggerer, api-server and two Celery workers run as separate processes (the same
`airflow_local` runtime, `AIRFLOW__CORE__EXECUTOR=CeleryExecutor`); the broker is Redis at 127.0.0.1:6379; the
warehouse and Airflow's metadata DB are separate databases on this machine's PostgreSQL 15 (`.ci/run` starts both
servers when they are not running; without one the module skips, saying why, and fails under CI).

1. a two-day backfill through Airflow's own backfill: each date's whole chain (extract → gate → transform → export)
   ends green, one transform and one export per date, in date order, none merged; the tasks spread over both
   workers;
2. for another date a worker is SIGKILLed (its whole process tree, as when its machine dies) while it runs load
   tasks: the scheduler notices the missing heartbeats, the tasks are re-run on the other worker, the run ends green,
   and the landed rows equal a clean load of the same date.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest

from include import airflow_local
from include.airflow_api import AirflowApi
from include.chain_watch import run_label, watch_chain
from include.config import Settings, get_settings
from include.pipeline import EXPORT_DAG, EXTRACT_DAG, LOAD_TASK_PREFIX, TRANSFORM_DAG
from include.warehouse.connect import connect
from include.warehouse.locks import TRANSFORM_INPUTS_LOCK
from tests.airflow_helpers import downstream_runs, source_contents
from tests.external_pg import external_warehouse, unavailable

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.external]

BROKER = os.environ.get("SA_TEST_CELERY_BROKER_URL", "redis://127.0.0.1:6379/15")
FIRST_DAY, CLEAN_DAY, KILL_DAY = "2025-11-01", "2025-11-02", "2025-11-03"


def _redis_problem() -> str | None:
    import redis

    try:
        redis.Redis.from_url(BROKER, socket_connect_timeout=3).ping()
    except redis.RedisError as exc:
        return str(exc)
    return None


def _flush_broker() -> None:
    """No message of an earlier, aborted run reaches this run's workers (nor this run's the next)."""
    import redis

    redis.Redis.from_url(BROKER).flushdb()


@pytest.fixture(scope="module")
def celery_chain(monkeypatch_module: pytest.MonkeyPatch, landing: Any,
                 tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[AirflowApi, Settings]]:
    from include.ingest.batch import load_batch
    from include.transform.dbt_env import dbt_project_env
    from include.warehouse import bootstrap
    from include.warehouse.connections import airflow_conn_env

    problem = _redis_problem()
    if problem:
        unavailable(f"no Redis broker reachable at {BROKER} ({problem}); .ci/run starts redis-server")
    with external_warehouse(monkeypatch_module, "sa_celery") as external:
        patch = monkeypatch_module
        patch.setenv("AIRFLOW_METADATA_DB", f"{external.warehouse_db}_airflow")
        patch.setenv("SA_EXPORT_ROOT", str(tmp_path_factory.mktemp("celery-exports")))
        patch.setenv("AIRFLOW__CORE__EXECUTOR", "CeleryExecutor")
        patch.setenv("AIRFLOW__CELERY__BROKER_URL", BROKER)
        patch.setenv("SA_NIGHTLY_SCHEDULE", "0 2 * * *")  # the production schedule: backfills need one
        # A dead worker's tasks are failed (then retried) after 30 s without a heartbeat, not the default 5 min.
        patch.setenv("AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT", "30")
        patch.setenv("AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL", "3")
        settings = get_settings()
        # The session's environment describes the embedded warehouse: point every Airflow process at this one.
        patch.setenv("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", airflow_local.metadata_db_url(settings))
        for name, value in {**airflow_conn_env(settings), **dbt_project_env(settings)}.items():
            patch.setenv(name, value)
        bootstrap.bootstrap(settings)
        load_batch("history", settings)
        _flush_broker()
        try:
            api = airflow_local.start_chain(settings)
            yield api, settings
        finally:
            airflow_local.stop(settings)
            _flush_broker()
            with psycopg.connect(settings.admin_url("postgres"), autocommit=True) as conn:
                conn.execute(f'drop database if exists "{settings.airflow_db}" with (force)')
                conn.execute(f'drop role if exists "{settings.airflow_db_owner}"')


def _worker_logs(settings: Settings) -> dict[str, str]:
    run = settings.airflow_home / "run"
    return {p.stem: p.read_text(errors="replace") for p in sorted(run.glob(f"{airflow_local.CELERY_WORKER}-*.log"))}


def _executed(log: str, dag_id: str, run_id: str) -> set[tuple[str, int]]:
    """(task_id, try_number) of every workload of `run_id` a worker's log says it executed."""
    found = set()
    for line in log.splitlines():
        if "Executing workload in Celery" in line and f"dag_id='{dag_id}'" in line and f"run_id='{run_id}'" in line:
            task = re.search(r"task_id='([^']+)'", line)
            attempt = re.search(r"try_number=(\d+)", line)
            if task and attempt:
                found.add((task.group(1), int(attempt.group(1))))
    return found


def test_a_backfill_runs_each_date_once_in_order_on_two_celery_workers(
        celery_chain: tuple[AirflowApi, Settings]) -> None:
    api, settings = celery_chain
    with connect("admin", settings) as conn:
        databases = {r[0] for r in conn.execute("select datname from pg_database")}
    assert not settings.is_embedded and {settings.warehouse_db, settings.airflow_db} <= databases  # two databases
    running = {s.name for s in airflow_local.component_states(settings) if s.running}
    assert running == {"api-server", "scheduler", "dag-processor", "triggerer", "celery-worker-1", "celery-worker-2"}

    since = datetime.now(UTC)
    backfill = api.create_backfill(EXTRACT_DAG, f"{FIRST_DAY}T00:00:00+00:00", f"{CLEAN_DAY}T23:59:59+00:00")
    runs = watch_chain(api, since, backfill, timeout_s=900, poll_s=1.0)
    states = {dag_id: [(run_label(r), r["state"]) for r in dag_runs] for dag_id, dag_runs in runs.items()}
    assert sorted(states[EXTRACT_DAG]) == [(FIRST_DAY, "success"), (CLEAN_DAY, "success")], states
    for dag_id in (TRANSFORM_DAG, EXPORT_DAG):  # one run per date, in date order (none merged), each green
        assert states[dag_id] == [(FIRST_DAY, "success"), (CLEAN_DAY, "success")], states
    for day in (FIRST_DAY, CLEAN_DAY):
        assert (Path(settings.export_root) / day / "manifest.json").exists()
    extract_runs = [r["dag_run_id"] for r in runs[EXTRACT_DAG]]
    per_worker = {name: set().union(*(_executed(log, EXTRACT_DAG, run_id) for run_id in extract_runs))
                  for name, log in _worker_logs(settings).items()}
    assert all(per_worker.values()), f"every worker should have run some of the extract's tasks: {per_worker}"


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def _worker_of(pid: int, workers: dict[str, int]) -> str:
    """The Celery worker whose process tree runs `pid`."""
    for name, root in workers.items():
        if pid in _descendants(root):
            return name
    raise AssertionError(f"pid {pid} belongs to no Celery worker ({workers})")


@pytest.mark.timeout(1200)
def test_a_worker_killed_mid_load_has_its_tasks_rerun_on_the_other_and_lands_what_a_clean_load_lands(
        celery_chain: tuple[AirflowApi, Settings]) -> None:
    from include.ingest.batch import load_batch

    api, settings = celery_chain
    clean = [r for r in api.runs(EXTRACT_DAG) if (r.get("logical_date") or "").startswith(CLEAN_DAY)]
    if not any(r["state"] == "success" for r in clean):
        pytest.fail(f"needs {CLEAN_DAY}'s clean run (validate_batch waits for the previous day's)", pytrace=False)
    workers = {s.name: s.pid for s in airflow_local.component_states(settings)
               if s.name.startswith(airflow_local.CELERY_WORKER) and s.pid}
    # Hold the lock dbt builds take: the day's load tasks start on the workers and wait inside their transactions.
    with connect("admin", settings, autocommit=True) as blocker:
        blocker.execute("select pg_advisory_lock(hashtext(%s))", (TRANSFORM_INPUTS_LOCK,))
        run_id = api.trigger(EXTRACT_DAG, logical_date=f"{KILL_DAY}T02:00:00Z")
        deadline = time.monotonic() + 300
        waiting: list[int] = []
        while not waiting and time.monotonic() < deadline:
            waiting = [int(r[0]) for r in blocker.execute(
                "select split_part(application_name, ':', 3) from pg_stat_activity where wait_event_type = 'Lock'"
                " and application_name like 'support-analytics:loader:%'")]
            time.sleep(0.2)
        assert waiting, "no load task reached its transaction"
        time.sleep(2)  # let the other load tasks reach theirs too
        victim = _worker_of(waiting[0], workers)
        tree = _descendants(workers[victim])
        with contextlib.suppress(ProcessLookupError):  # the worker's session, as when its machine or container dies,
            os.killpg(workers[victim], signal.SIGKILL)
        for pid in tree:  # and anything under it that left the session
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        killed_loads = {r[0] for r in blocker.execute(
            "select split_part(application_name, ':', 3) from pg_stat_activity"
            " where application_name like 'support-analytics:loader:%'")} & {str(p) for p in tree}
        blocker.execute("select pg_advisory_unlock(hashtext(%s))", (TRANSFORM_INPUTS_LOCK,))

    run = api.wait_for_run(EXTRACT_DAG, run_id, timeout_s=600)
    tries = {t["task_id"]: (t["state"], t["try_number"]) for t in api.task_instances(EXTRACT_DAG, run_id)}
    assert run["state"] == "success", tries
    logs = _worker_logs(settings)
    # what the dead worker was running: the tries it started that are not the task's last
    killed = {(task, attempt) for task, attempt in _executed(logs[victim], EXTRACT_DAG, run_id)
              if tries[task][1] > attempt}
    assert killed and killed_loads, (killed, killed_loads, tries)
    assert all(task.startswith(LOAD_TASK_PREFIX) for task, _ in killed), killed
    survivor = next(name for name in workers if name != victim)
    rerun = _executed(logs[survivor], EXTRACT_DAG, run_id)
    for task_id, attempt in killed:  # each one done by the other worker, on a later try
        assert tries[task_id][0] == "success"
        assert any(t == task_id and n > attempt for t, n in rerun), (task_id, attempt, rerun)
    assert {dag_id: r["state"] for dag_id, r in downstream_runs(api, KILL_DAY, timeout_s=300).items()} == \
        {TRANSFORM_DAG: "success", EXPORT_DAG: "success"}

    with connect("admin", settings) as conn:
        assert conn.execute("select count(*) from audit.load_batches where batch_id = %s and status <> 'success'",
                            (KILL_DAY,)).fetchone()[0] == 0
    landed = source_contents(settings)
    load_batch(KILL_DAY, settings)  # a clean load of the same date, in this process
    assert source_contents(settings) == landed, "the killed and re-run loads must land what a clean load lands"
