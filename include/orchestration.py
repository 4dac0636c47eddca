"""What every DAG of the project shares: default_args, the batch a run works on, and the Assets that chain them.

Kept free of heavy imports: DAG files import this at parse time.
"""

from __future__ import annotations

import os
from datetime import date, timedelta
from typing import Any

from include import contract
from include.config import SCHEMA_MARTS, SCHEMA_SOURCES, get_settings

OWNER = "data-platform"


def default_args(**overrides: Any) -> dict[str, Any]:
    """Retries with exponential backoff, a hard time limit per task, and the failure alert (`include.notify`), which
    Airflow calls once the last try has failed."""
    from include.notify.callbacks import task_failure_callbacks

    args: dict[str, Any] = {
        "owner": OWNER,
        "retries": 2,
        # SA_RETRY_DELAY_S shortens the wait in tests; the number of retries stays what production has.
        "retry_delay": timedelta(seconds=int(os.environ.get("SA_RETRY_DELAY_S", "120"))),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(minutes=20),
        "execution_timeout": timedelta(hours=1),
        "on_failure_callback": task_failure_callbacks(),
    }
    args.update(overrides)
    return args


def nightly_timetable() -> Any:
    """`SA_NIGHTLY_SCHEDULE` (cron, UTC) as a data-interval timetable: the run for logical date D starts after day D
    is over (default 02:00 UTC the next day). `off` = no schedule: runs only by trigger with a logical date."""
    from airflow.sdk import CronDataIntervalTimetable

    cron = get_settings().nightly_schedule
    return CronDataIntervalTimetable(cron, timezone="UTC") if cron else None


def batch_id_from_context(context: dict[str, Any]) -> str:
    """The landing folder a run works on.

    - run conf `{"batch": "history"}` or `{"date": "YYYY-MM-DD"}` wins (manual reruns and the bootstrap);
    - a scheduled or backfill run works on its logical date (data interval start: the run for 2025-11-01 starts
      after that day is over);
    - a manual run without conf (logical_date is None in Airflow 3) works on the day before it was triggered,
      the latest complete day.
    """
    conf = (context.get("dag_run") and context["dag_run"].conf) or {}
    if conf.get("batch"):
        return str(conf["batch"])
    if conf.get("date"):
        return date.fromisoformat(str(conf["date"])).isoformat()
    logical = context.get("logical_date")
    if logical is not None:
        return logical.date().isoformat()
    run_after = context["dag_run"].run_after
    return (run_after.date() - timedelta(days=1)).isoformat()


def source_table_uris() -> dict[str, str]:
    settings = get_settings()
    return {t.name: settings.table_uri(SCHEMA_SOURCES, t.name) for t in contract.TABLES}


def mart_uri(model: str) -> str:
    return get_settings().table_uri(SCHEMA_MARTS, model)


# Emitted by support_extract only after the Great Expectations gate passed; schedules support_transform.
VALIDATED_BATCH_ASSET = "support_analytics.validated_batch"

# The churn as-of date as the transform passes it to dbt (read by the macro `churn_as_of_date`; "" = latest date).
AS_OF_DATE_ENV = "SA_AS_OF_DATE"


def as_of_date_for_run(dag_run: Any, triggering_asset_events: Any = None) -> str:
    """The churn as-of date a transform run passes to dbt (env `SA_AS_OF_DATE`; "" = the latest date in the data).

    - run conf `{"as_of_date": "YYYY-MM-DD"}` wins (manual reruns);
    - an asset-triggered run takes the batch the validated extract landed (the event's extra `batch_id`);
      for the `history` bootstrap that is "" (latest date in the data);
    - otherwise "".
    """
    conf = (dag_run.conf if dag_run is not None else None) or {}
    if conf.get("as_of_date"):
        return date.fromisoformat(str(conf["as_of_date"])).isoformat()
    batch_ids = []
    for events in (triggering_asset_events or {}).values():
        batch_ids += [e.extra.get("batch_id") for e in events if e.extra and e.extra.get("batch_id")]
    dated = sorted(b for b in batch_ids if b != "history")
    return dated[-1] if dated else ""
