"""Watching the nightly chain from the terminal: each DAG run's state changes as they happen, with elapsed time.

`make demo` and `sa backfill --wait` use it instead of minutes of silence. It follows the backfill's extract runs
and every transform and export run created since it started; it ends when the backfill has completed and none of
those is queued or running any more (transform and export runs appear on their own, triggered by the Assets, so
"done" means quiet for a couple of polls, not "the extract runs finished"). A scheduled run of another day that is
waiting for its delivery is not the backfill's and does not hold the watch.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from include.airflow_api import TERMINAL, AirflowApi
from include.pipeline import CHAIN

POLL_S = 3.0
QUIET_POLLS = 3  # consecutive polls with nothing queued or running before the chain counts as settled


def run_label(run: dict[str, Any]) -> str:
    """What a run works on, as the UI shows it: the partition key, the logical date, or the conf's date."""
    conf = run.get("conf") or {}
    for value in (run.get("partition_key"), conf.get("as_of_date"), conf.get("date"), conf.get("batch")):
        if value:
            return str(value)
    logical = run.get("logical_date")
    return str(logical)[:10] if logical else "latest"


def _after(run: dict[str, Any], since: datetime) -> bool:
    return datetime.fromisoformat(str(run["run_after"]).replace("Z", "+00:00")) >= since


def watch_chain(api: AirflowApi, since: datetime, backfill: dict[str, Any], *, timeout_s: float = 3600,
                say: Callable[[str], None] = print, poll_s: float = POLL_S) -> dict[str, list[dict[str, Any]]]:
    """Print every state change of the backfill's runs and the transform/export runs they cause; return them.

    Settled means `QUIET_POLLS` polls `poll_s` apart with nothing queued or running: a run's Asset events create the
    next DAG's run before that run ends, so a second or two of quiet is enough; a person watching needs no more than
    one line every few seconds."""
    started = time.monotonic()
    seen: dict[tuple[str, str], str] = {}
    quiet = 0
    runs: dict[str, list[dict[str, Any]]] = {}
    while time.monotonic() - started < timeout_s:
        runs = {dag_id: api.backfill_runs(backfill) if dag_id == backfill["dag_id"] else
                [r for r in api.runs(dag_id) if _after(r, since) or _touched(r, since)] for dag_id in CHAIN}
        for dag_id, dag_runs in runs.items():
            for run in dag_runs:
                key = (dag_id, run["dag_run_id"])
                if seen.get(key) != run["state"]:
                    seen[key] = run["state"]
                    say(f"  [{time.monotonic() - started:5.0f}s] {dag_id:22} {run_label(run):10} {run['state']}")
        backfill_done = _backfill_done(api, backfill, runs[backfill["dag_id"]])
        busy = any(r["state"] not in TERMINAL for dag_runs in runs.values() for r in dag_runs)
        quiet = quiet + 1 if backfill_done and not busy else 0
        if quiet >= QUIET_POLLS:
            return runs
        time.sleep(poll_s)
    raise TimeoutError(f"the chain was still busy after {timeout_s:.0f}s: see the Airflow UI")


def _backfill_done(api: AirflowApi, backfill: dict[str, Any], backfill_runs: list[dict[str, Any]]) -> bool:
    """Has every run of the backfill finished? Its own runs say so first: the scheduler marks a backfill complete
    only on a 30-second timer (`_mark_backfills_complete`), up to 30 s after its last run ended. (Airflow creates all
    of a backfill's runs, queued, when the backfill is created.)"""
    if backfill_runs and all(r["state"] in TERMINAL for r in backfill_runs):
        return True
    return api.backfill(backfill["id"]).get("completed_at") is not None


def _touched(run: dict[str, Any], since: datetime) -> bool:
    """An older run re-run (cleared) since `since`: its start date moved past it."""
    start = run.get("start_date")
    return bool(start) and datetime.fromisoformat(str(start).replace("Z", "+00:00")) >= since
