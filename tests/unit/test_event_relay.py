"""The producer's dbt events: handled off dbt's threads, in order, all before the producer returns; a node's
progress events logged, not pushed (`include.transform.event_relay`)."""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any

import pytest

from include.transform.event_relay import EventRelay, results_only


def _line(name: str, msg: str = "", level: str = "info", uid: str = "model.p.m") -> str:
    return json.dumps({"info": {"name": name, "msg": msg, "level": level},
                       "data": {"node_info": {"unique_id": uid}}})


def test_events_are_handled_in_order_in_another_thread_and_all_before_the_relay_closes() -> None:
    handled: list[tuple[str, Any, str]] = []

    def slow_handle(line: str, extra: Any) -> None:
        time.sleep(0.01)  # an API call
        handled.append((line, extra, threading.current_thread().name))

    with EventRelay(slow_handle) as relay:
        for i in range(20):
            relay(str(i), {"n": i})
        handled_when_queued = len(handled)
    assert handled_when_queued < 20, "the caller (a dbt thread) waited for the handler"
    assert [line for line, _, _ in handled] == [str(i) for i in range(20)]
    assert {thread for _, _, thread in handled} == {"dbt-event-relay"}


def test_the_first_handler_error_is_raised_when_the_relay_closes_and_later_events_still_run() -> None:
    handled: list[str] = []

    def handle(line: str, extra: Any) -> None:
        if line == "bad":
            raise ValueError("cannot push")
        handled.append(line)

    with pytest.raises(ValueError, match="cannot push"), EventRelay(handle) as relay:
        for line in ("a", "bad", "b"):
            relay(line, None)
    assert handled == ["a", "b"]


def test_progress_events_are_logged_not_handled(caplog: pytest.LogCaptureFixture) -> None:
    handled: list[str] = []
    handle = results_only(lambda line, extra: handled.append(json.loads(line)["info"]["name"]
                                                             if line.startswith("{") else line))
    caplog.set_level(logging.DEBUG)
    for line in (_line("MainReportVersion", "Running with dbt=1.11"),
                 _line("NodeStart", "Began running node model.p.m", level="debug"),
                 _line("LogStartLine", "1 of 3 START sql view model m"),
                 _line("NodeCompiling", "Began compiling node model.p.m", level="debug"),
                 _line("NodeExecuting", "Began executing node model.p.m", level="debug"),
                 _line("LogModelResult", "1 of 3 OK created sql view model m"), _line("NodeFinished"),
                 _line("RunResultError", "boom", level="error"), "not json"):
        handle(line, None)
    assert handled == ["MainReportVersion", "LogStartLine", "LogModelResult", "NodeFinished", "RunResultError",
                       "not json"]
    logged = [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "cosmos.operators._watcher"]
    assert logged == [(logging.DEBUG, f"Began {step} node model.p.m") for step in ("running", "compiling", "executing")]
