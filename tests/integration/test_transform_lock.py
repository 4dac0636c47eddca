"""A load never lands rows while a dbt build runs, and a dbt build outlives the process that started it with its lock.

The race is provoked on purpose: a real `dbt build` (through `sa-dbt`, as `sa dbt` runs it; the transform's tasks
take the same lock around dbt in their own process: tests/e2e/test_scheduler_chain.py kills one) is
watched in `pg_stat_activity` until it is building `mart_ticket_analytics`, and at that moment a real load of the
next day's tickets starts — the window in which, without the lock, the load landed tickets the mart never saw and
the mart's test `assert_ticket_analytics_has_every_ticket` failed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from include.config import Settings
from include.ingest.batch import load_batch
from include.transform.cosmos_adapter import NIGHTLY_DBT_FLAGS
from include.transform.dbt_env import dbt_env, locked_dbt_executable
from include.warehouse.connect import connect
from include.warehouse.locks import lock_state

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def history(landing: Any, warehouse: Settings) -> Iterator[Settings]:
    from tests.conftest import truncate_warehouse

    truncate_warehouse(warehouse)
    load_batch("history", warehouse)
    yield warehouse
    truncate_warehouse(warehouse)


def _start_dbt(settings: Settings, *args: str) -> subprocess.Popen[str]:
    """`sa-dbt <args>` in a session of its own, with the profile's environment."""
    env = {**os.environ, **dbt_env(settings)}
    project = str(settings.dbt_project_dir)
    return subprocess.Popen([locked_dbt_executable(), *args, "--project-dir", project, "--profiles-dir", project,
                             "--target-path", str(settings.local_dir / "dbt-lock-test")],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)


def _wait_until_dbt_runs(settings: Settings, fragment: str, proc: subprocess.Popen[str],
                         timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    with connect("admin", settings, autocommit=True) as conn:
        while time.monotonic() < deadline:
            assert proc.poll() is None, f"dbt ended before running {fragment}:\n{proc.stdout.read()}"  # type: ignore[union-attr]
            if conn.execute("select exists (select from pg_stat_activity where application_name = 'dbt'"
                            " and query ilike %s)", (f"%{fragment}%",)).fetchone()[0]:
                return
            time.sleep(0.02)
    raise TimeoutError(f"dbt never ran a statement on {fragment}")


def test_a_load_that_arrives_mid_build_waits_for_dbt_and_every_dbt_test_passes(history: Settings) -> None:
    dbt = _start_dbt(history, "build", *NIGHTLY_DBT_FLAGS)  # as the transform builds (unit tests read no rows)
    _wait_until_dbt_runs(history, "mart_ticket_analytics", dbt)
    landed: dict[str, Any] = {}
    load = threading.Thread(target=lambda: landed.update(result=load_batch("2025-11-01", history)))
    load.start()
    output, _ = dbt.communicate(timeout=600)
    load.join(timeout=120)
    assert dbt.returncode == 0, f"dbt build failed while a load was waiting:\n{output[-4000:]}"
    assert sum(t.rows_loaded for t in landed["result"]) > 0
    with connect("loader", history) as conn:
        started, finished = conn.execute(
            "select extract(epoch from min(started_at)), extract(epoch from min(finished_at)) from audit.load_batches"
            " where batch_id = '2025-11-01'").fetchone()
    # the batch's first load began during the build; none committed before dbt's last model or test had finished
    last_node_done = max(datetime.fromisoformat(t["completed_at"].replace("Z", "+00:00")).timestamp()
                         for r in _run_results(history, "dbt-lock-test")["results"] for t in r["timing"])
    assert float(started) < last_node_done < float(finished), (started, last_node_done, finished)


def _run_results(settings: Settings, target: str) -> dict[str, Any]:
    return json.loads((settings.local_dir / target / "run_results.json").read_text())


def test_dbt_keeps_the_lock_when_the_process_that_started_it_is_killed(history: Settings) -> None:
    """`sa dbt` started in the background by a shell that is then SIGKILLed: dbt goes on running — and locked."""
    parent = subprocess.Popen(
        ["bash", "-c", f"'{locked_dbt_executable()}' \"$@\" & echo $!; wait", "sh", "build", "--select",
         "stg_tickets+", *NIGHTLY_DBT_FLAGS, "--project-dir", str(history.dbt_project_dir), "--profiles-dir",
         str(history.dbt_project_dir), "--target-path", str(history.local_dir / "dbt-lock-kill")],
        env={**os.environ, **dbt_env(history)}, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        start_new_session=True)
    dbt_pid = int(parent.stdout.readline())  # type: ignore[union-attr]
    _wait_until_dbt_runs(history, "stg_tickets", parent)
    os.kill(parent.pid, signal.SIGKILL)  # the shell dies; dbt, in the background, goes on
    parent.wait()
    with connect("admin", history, autocommit=True) as conn:
        assert any(s["granted"] and s["mode"] == "ExclusiveLock" for s in lock_state(conn)), \
            "dbt runs on without the transform-inputs lock after its parent was killed"
    landed = load_batch("2025-11-02", history)  # waits for that dbt
    assert sum(t.rows_loaded for t in landed) > 0
    with connect("loader", history) as conn:
        finished = conn.execute("select extract(epoch from finished_at) from audit.load_batches"
                                " where batch_id = '2025-11-02' and table_name = 'support_tickets'").fetchone()[0]
    results = _run_results(history, "dbt-lock-kill")  # written by that dbt at its end, before it let go
    assert results["results"] and all(r["status"] in ("success", "pass", "no-op") for r in results["results"]), \
        [(r["unique_id"], r["status"]) for r in results["results"] if r["status"] not in ("success", "pass", "no-op")]
    last_node_done = max(datetime.fromisoformat(t["completed_at"].replace("Z", "+00:00")).timestamp()
                         for r in results["results"] for t in r["timing"])
    assert last_node_done < float(finished), "the load committed while the orphaned dbt was still building"
    deadline = time.monotonic() + 30
    while _alive(dbt_pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    with connect("admin", history, autocommit=True) as conn:
        assert not _alive(dbt_pid) and lock_state(conn) == []


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_sa_dbt_builds_a_selection_as_the_transformer_on_the_configured_warehouse(history: Settings) -> None:
    """The engineer's inner loop: edit a model, `sa dbt -- build --select <it>`; no profile values by hand."""
    import sys

    build = ["build", "--select", "staging", "--indirect-selection", "cautious",
             "--target-path", str(history.local_dir / "dbt-cli")]
    done = subprocess.run([sys.executable, "-m", "include.cli", "dbt", "--", *build], capture_output=True,
                          text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "Completed successfully" in done.stdout
    with connect("admin", history) as conn:
        owner = conn.execute("select viewowner from pg_views where schemaname = 'staging'"
                             " and viewname = 'stg_tickets'").fetchone()[0]
    assert owner == history.roles.transformer
    usage = subprocess.run([sys.executable, "-m", "include.cli", "dbt"], capture_output=True, text=True, check=False)
    assert usage.returncode == 2 and "usage: sa dbt --" in usage.stderr


def test_a_dbt_session_whose_process_was_killed_stops_its_query_within_seconds(warehouse: Settings) -> None:
    """The transform's dbt runs with `with_client_check`'s PGOPTIONS: once its process is SIGKILLed (and the lock
    with it), PostgreSQL ends the session's running query within about a second instead of running it to the end."""
    from include.transform.locked_dbt import with_client_check

    app = f"sa-client-check-test-{os.getpid()}"
    query = ("import psycopg, sys; psycopg.connect(sys.argv[1], application_name=sys.argv[2])"
             ".execute('select pg_sleep(120)')")

    def sessions_left_after_kill(env: dict[str, str], wait_s: float) -> int:
        """Active sessions of the killed client once they are gone or `wait_s` has passed."""
        client = subprocess.Popen([sys.executable, "-c", query, warehouse.admin_url(), app], env=env)
        with connect("admin", warehouse, autocommit=True) as conn:
            count = "select count(*) from pg_stat_activity where application_name = %s and state = 'active'"
            deadline = time.monotonic() + 30
            while conn.execute(count, (app,)).fetchone()[0] == 0 and time.monotonic() < deadline:
                time.sleep(0.1)
            client.kill()
            client.wait()
            deadline = time.monotonic() + wait_s
            while (left := int(conn.execute(count, (app,)).fetchone()[0])) and time.monotonic() < deadline:
                time.sleep(0.1)
            conn.execute("select pg_terminate_backend(pid) from pg_stat_activity where application_name = %s", (app,))
            return left

    assert sessions_left_after_kill(with_client_check(dict(os.environ)), wait_s=3) == 0
    assert sessions_left_after_kill(dict(os.environ), wait_s=2) == 1, "without the check the query would run on"
