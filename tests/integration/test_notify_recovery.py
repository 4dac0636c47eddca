"""Recovery on real PostgreSQL: the DAG-level callbacks against `audit.run_summary`, with the minimal context the
dag-processor passes (`dag`, `run_id`) and a webhook receiver on loopback.

The e2e alert tests cover a new successful run after a failed one (dag.test runs DAG-level callbacks); a failed
run that is *cleared and re-run* keeps its run id, which dag.test cannot produce, so that path is driven here.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from typing import Any

import pytest

from include.notify.callbacks import on_dag_failure, on_dag_success
from include.run_summary import RunSummary, last_verdict, write
from include.warehouse.connect import connect

pytestmark = pytest.mark.integration

DAG_ID = "test_notify_recovery"


@pytest.fixture
def webhook(warehouse: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dict[str, Any]]]:
    received: list[dict[str, Any]] = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.delenv("SA_ALERT_EMAILS", raising=False)
    monkeypatch.setenv("SA_ALERT_WEBHOOK_URL", f"http://127.0.0.1:{server.server_address[1]}/hook")
    with connect("admin") as conn:
        conn.execute("delete from audit.run_summary where dag_id = %s", (DAG_ID,))
    yield received
    server.shutdown()


def _context(run_id: str) -> dict[str, Any]:
    return {"dag": SimpleNamespace(dag_id=DAG_ID), "run_id": run_id}


def _state(run_id: str) -> str:
    with connect("admin") as conn:
        return conn.execute("select state from audit.run_summary where dag_id = %s and run_id = %s",
                            (DAG_ID, run_id)).fetchone()[0]


def _teardown_row(run_id: str) -> None:
    """What `summarize_run` writes: counts, never the state."""
    write(RunSummary(dag_id=DAG_ID, run_id=run_id, run_date="2025-11-01", state="running", rows_landed=7))


def test_a_cleared_and_rerun_failed_run_sends_the_all_clear_once(webhook) -> None:  # type: ignore[no-untyped-def]
    _teardown_row("r1")
    assert _state("r1") == "running" and last_verdict(DAG_ID) is None
    on_dag_failure(_context("r1"))
    assert _state("r1") == "failed"

    _teardown_row("r1")  # the cleared task ran again; the summary task rewrote the counts …
    assert _state("r1") == "failed"  # … but the run keeps its last verdict until Airflow gives the new one
    on_dag_success(_context("r1"))
    assert _state("r1") == "success"
    assert len(webhook) == 1
    assert webhook[0]["text"].startswith(f"All clear: {DAG_ID} run r1 succeeded on re-run")
    # the date is the summary task's (a DAG-level callback's context may not know the run's partition key)
    assert "Worked on: 2025-11-01" in webhook[0]["text"]

    _teardown_row("r2")  # the next run succeeds too: no all-clear
    on_dag_success(_context("r2"))
    assert len(webhook) == 1 and _state("r2") == "success"


def test_first_run_and_a_run_without_summary_row(webhook) -> None:  # type: ignore[no-untyped-def]
    on_dag_success(_context("first"))  # no previous verdict: nothing to recover from
    assert webhook == [] and _state("first") == "success"
    on_dag_failure(_context("crashed"))  # the summary task never ran: a bare row still records the verdict
    with connect("admin") as conn:
        row = conn.execute("select run_date, state, rows_landed from audit.run_summary where run_id = 'crashed'"
                           " and dag_id = %s", (DAG_ID,)).fetchone()
    assert row == ("unknown", "failed", None)
    _teardown_row("next")
    on_dag_success(_context("next"))
    assert len(webhook) == 1 and "after the failed run crashed" in webhook[0]["text"]


def test_callbacks_do_not_raise_when_the_warehouse_is_unreachable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WAREHOUSE_URL", "postgresql://nobody:x@127.0.0.1:9/none")
    on_dag_failure(_context("x"))
    on_dag_success(_context("x"))
