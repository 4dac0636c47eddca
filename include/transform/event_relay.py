"""dbt's events handled beside the build, not inside it.

In `InvocationMode.DBT_RUNNER` dbt calls Cosmos' event callback in the thread that fired the event: one of dbt's
worker threads, which then waits while Cosmos parses the event, logs it and pushes the node's result to XCom (an API
call). `EventRelay` takes the parsed-line handler's calls off dbt's threads: each call is queued and run, in the
order dbt fired the events, by one thread of its own — as Cosmos handles dbt's output lines in SUBPROCESS mode. The
relay is drained before the producer returns, so every result is in XCom by the time the task ends.

`results_only` drops what nobody reads: Cosmos pushes every lifecycle event of every node to XCom
(`<node>_dbt_event`, each overwriting the one before), ~400 API calls a build, while a model task reads its node's
event once, after its result, i.e. the `NodeFinished` one. The progress events before it are logged, not pushed.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any

log = logging.getLogger(__name__)
dbt_log = logging.getLogger("cosmos.operators._watcher")  # where Cosmos logs dbt's other lines

_DONE = object()

# A node's lifecycle events before its result (dbt-core's core/dbt/events/types.py).
PROGRESS_EVENTS = frozenset({"NodeStart", "NodeCompiling", "NodeExecuting"})


def results_only(handle: Callable[[str, Any], None]) -> Callable[[str, Any], None]:
    """`handle` for every dbt event but a node's progress events, which are only logged (as dbt prints them)."""

    def handle_results(line: str, extra_kwargs: Any) -> None:
        try:
            info = json.loads(line).get("info") or {}
        except (ValueError, AttributeError):
            info = {}
        if info.get("name") not in PROGRESS_EVENTS:
            handle(line, extra_kwargs)
        elif info.get("msg"):
            level = logging.getLevelName(str(info.get("level", "info")).upper())
            dbt_log.log(level if isinstance(level, int) else logging.INFO, "%s", info["msg"])

    return handle_results


class EventRelay:
    """A drop-in for Cosmos' `parse(line, extra_kwargs)` that runs `handle` in a background thread, in order; the first
    error `handle` raised is raised again when the relay is closed (later events are still handled)."""

    def __init__(self, handle: Callable[[str, Any], None]) -> None:
        self._handle = handle
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="dbt-event-relay", daemon=True)
        self.error: BaseException | None = None

    def __call__(self, line: str, extra_kwargs: Any) -> None:
        self._queue.put((line, extra_kwargs))

    def _run(self) -> None:
        while (item := self._queue.get()) is not _DONE:
            try:
                self._handle(*item)
            except BaseException as exc:  # kept, and raised in the producer's thread when the relay closes; the
                # thread goes on: a result it did not push would leave its model task waiting for it
                log.exception("Error handling a dbt event: %s", exc)
                if self.error is None:
                    self.error = exc

    def __enter__(self) -> EventRelay:
        self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._queue.put(_DONE)
        self._thread.join()
        if exc is None and self.error is not None:
            raise self.error
