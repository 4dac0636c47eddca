"""
### source_system_simulator — LOCAL ONLY: the simulated source systems deliver last night's files

**Not part of production.** This DAG exists only where `SA_SIMULATED_SOURCE=on` (the local runtime of `make demo`
and the tests); production reads what the real operational systems drop into the landing zone.

**Schedule:** `SA_SOURCE_SCHEDULE` (default 00:30 UTC), before the nightly `support_extract` (02:00 UTC). The run for
logical date *D* writes `<landing>/<D>/` — seven `.csv.gz` files and `_manifest.json` last — from the deterministic
simulator (`include/source_system.py`), like a source system delivering last night. Missing earlier days are written
too, at most 7 back (after the machine was off); load those with `sa backfill FROM TO`.

**On failure:** the landing zone is not writable or the disk is full; clear the task. Re-running rewrites nothing
that is already complete.
"""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.sdk import CronDataIntervalTimetable, dag, task

from include.config import get_settings
from include.dag_defaults import default_args, with_ui_links
from include.pipeline import SOURCE_DAG

SETTINGS = get_settings()

if SETTINGS.simulated_source:

    @dag(
        dag_id=SOURCE_DAG,
        schedule=CronDataIntervalTimetable(SETTINGS.source_schedule, timezone="UTC"),
        start_date=pendulum.datetime(2025, 11, 1, tz="UTC"),
        catchup=False,
        max_active_runs=1,
        default_args=default_args(),
        tags=["support-analytics", "local-only", "simulator"],
        doc_md=with_ui_links(__doc__),
    )
    def source_system_simulator() -> None:
        @task
        def deliver_last_night(**context: Any) -> list[str]:
            """Write the logical date's folder (and any missing day before it, at most 7)."""
            from include.source_system import deliver_up_to

            written = deliver_up_to(context["logical_date"].date())
            print(f"delivered {[d.isoformat() for d in written] or 'nothing new (already delivered)'}")
            return [d.isoformat() for d in written]

        deliver_last_night()

    source_system_simulator()
