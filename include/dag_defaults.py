"""What every DAG of the chain is declared with: owner, default_args, the nightly timetable and the alerting.

DAG files import this at parse time: it stays light (Airflow's SDK and the notifier classes, nothing that touches a
database or imports dbt, GX or Cosmos).
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from airflow.sdk import CronDataIntervalTimetable, Param

from include.config import get_settings
from include.contract import HISTORY
from include.notify.callbacks import dag_alerting, task_failure_callbacks
from include.pipeline import DBT_DOCS_SLUG, SUMMARY_TASK

OWNER = "data-platform"

__all__ = ["OWNER", "as_of_date_params", "dag_alerting", "default_args", "extract_params", "nightly_timetable",
           "with_ui_links"]


def default_args(**overrides: Any) -> dict[str, Any]:
    """Retries with exponential backoff, a hard time limit per task, and the failure alert (`include.notify`), which
    Airflow calls once the last try has failed."""
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


def summary_task_args() -> dict[str, Any]:
    """`@task` arguments of a DAG's `summarize_run` teardown: it runs as soon as its run's work is done — ahead of the
    tasks the next DAG's run queued meanwhile (an absolute priority above any model task's), else the extract's run
    stays "running" until the transform frees a slot — and its return value is one XCom, not one per key."""
    return {"task_id": SUMMARY_TASK, "retries": 1, "multiple_outputs": False,
            "priority_weight": 1000, "weight_rule": "absolute"}


def nightly_timetable() -> Any:
    """`SA_NIGHTLY_SCHEDULE` (cron, UTC) as a data-interval timetable: the run for logical date D starts after day D
    is over (default 02:00 UTC the next day). `off` = no schedule: runs only by trigger with a logical date."""
    cron = get_settings().nightly_schedule
    return CronDataIntervalTimetable(cron, timezone="UTC") if cron else None


def _date_param(title: str, description: str) -> Param:
    return Param(None, type=["null", "string"], format="date", title=title, description=description)


def extract_params() -> dict[str, Param]:
    """The typed trigger form of support_extract (a bad value is refused before a run starts)."""
    return {
        "date": _date_param("Day to load", "The landing folder to load, YYYY-MM-DD. Empty: the run's logical date "
                            "(scheduled and backfill runs), or yesterday for a manual run."),
        "batch": Param(None, type=["null", "string"], enum=[None, HISTORY], title="History bootstrap",
                       description="`history` lands the history folder instead of a day (first install)."),
    }


def as_of_date_params() -> dict[str, Param]:
    """The typed trigger form of support_transform and support_churn_export."""
    return {"as_of_date": _date_param("As-of date", "Evaluate (transform) or publish (export) churn as of this "
                                      "date, YYYY-MM-DD. Empty: the date of the triggering batch, else the latest.")}


def with_ui_links(doc_md: str | None) -> str:
    """A DAG's `doc_md` followed by links to the project's pages in the Airflow UI (Browse menu): the KPIs, dbt's
    docs and the GX data docs. Paths under the UI's base path (AIRFLOW__API__BASE_URL), so they hold behind a proxy."""
    base = urlsplit(os.environ.get("AIRFLOW__API__BASE_URL", "")).path.rstrip("/")
    links = (f"[Support KPIs]({base}/plugin/support-kpis) · "
             f"[dbt Docs]({base}/cosmos/{DBT_DOCS_SLUG}/dbt_docs_index.html) · "
             f"[GX Data Docs]({base}/plugin/gx-data-docs)")
    return f"{doc_md or ''}\n**In the UI:** {links}\n"
