"""Which date a DAG run of the chain works on: the one owner of that rule.

Every place that needs "the date of this run" — the extract's `resolve_batch`, the as-of date the transform hands to
dbt, the run summaries, the alerts (failure, recovery, late) — calls `run_date(context)`. Manual and Asset-triggered
runs have no logical date in Airflow 3, so the date comes, per DAG, from:

- support_extract (the landing folder it loads): run conf `{"batch": "history"}` or `{"date": "YYYY-MM-DD"}`; else
  the logical date (a scheduled or backfill run for D starts after day D is over); else, for a manual run without
  conf, the day before it was triggered (the latest complete day);
- support_transform (the churn as-of date): run conf `{"as_of_date": "YYYY-MM-DD"}`; else the run's partition key
  (one run per validated batch: the batch's date); else the latest dated batch among the triggering events; else
  `LATEST` (the history bootstrap, a manual run: the latest date in the data);
- support_churn_export (the as-of date it published): what its export task returned; else run conf `as_of_date`;
  else the run's partition key when it is a date (one run per transform build); else None (the newest lists);
- any other DAG: run conf `batch` / `date` / `as_of_date`, else the logical date.

Works on an Airflow task context, a Jinja template context (the transform's env var) and the plain dict a deadline
callback receives (`dag_run` as a dict). Imports nothing of `include.notify` or `include.run_summary`: both use it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta
from typing import Any

from include import pipeline
from include.contract import HISTORY

LATEST = "latest"  # the transform's as-of date when no batch date is known: the latest date in the data


def _get(obj: Any, name: str) -> Any:
    """Attribute of an Airflow object, or key of the dict a deadline callback gets."""
    if obj is None:
        return None
    if isinstance(obj, Mapping):
        return obj.get(name)
    return getattr(obj, name, None)


def _as_date(value: Any) -> date | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).date()


def iso_date(value: object, what: str) -> str:
    """`value` as YYYY-MM-DD, or a ValueError naming `what` (a run conf key, an event extra)."""
    try:
        return date.fromisoformat(str(value).strip()).isoformat()
    except ValueError:
        raise ValueError(f"{what} must be a date YYYY-MM-DD, got {value!r}") from None


def _event_extras(context: Mapping[str, Any], key: str) -> list[str]:
    """The values of `key` in the extras of the run's triggering Asset events."""
    values: list[str] = []
    events = context.get("triggering_asset_events") or {}
    for asset_events in events.values():
        values += [str(e.extra[key]) for e in _iterable(asset_events) if e.extra and e.extra.get(key)]
    return values


def _iterable(events: Any) -> Iterable[Any]:
    return events if isinstance(events, Iterable) else ()


def extract_batch_id(context: Mapping[str, Any]) -> str:
    """The landing folder a support_extract run loads (see the module docstring)."""
    dag_run = context.get("dag_run")
    conf = _get(dag_run, "conf") or {}
    if conf.get("batch"):
        batch = str(conf["batch"]).strip()
        return batch if batch == HISTORY else iso_date(batch, "run conf 'batch' (history or a date)")
    if conf.get("date"):
        return iso_date(conf["date"], "run conf 'date'")
    logical = _as_date(context.get("logical_date") or _get(dag_run, "logical_date"))
    if logical is not None:
        return logical.isoformat()
    run_after = _as_date(_get(dag_run, "run_after"))
    if run_after is None:
        raise ValueError("a support_extract run without conf, logical date or run_after: no batch to load")
    return (run_after - timedelta(days=1)).isoformat()


def _partition_date(context: Mapping[str, Any]) -> str | None:
    """The run's partition key when it is a date (partitioned runs of the chain are keyed by batch / as-of date)."""
    key = _get(context.get("dag_run"), "partition_key")
    if not key:
        return None
    try:
        return date.fromisoformat(str(key)).isoformat()
    except ValueError:
        return None  # `history`, `latest`


def transform_as_of_date(context: Mapping[str, Any]) -> str | None:
    """The churn as-of date of a support_transform run: a date, or LATEST (see the module docstring); None from a
    context that carries neither a partition key nor the triggering events (a deadline callback's)."""
    dag_run = context.get("dag_run")
    conf = _get(dag_run, "conf") or {}
    if conf.get("as_of_date"):
        return iso_date(conf["as_of_date"], "run conf 'as_of_date'")
    if _get(dag_run, "partition_key"):
        return _partition_date(context) or LATEST
    if "triggering_asset_events" not in context:
        return None
    dated = sorted(b for b in _event_extras(context, pipeline.BATCH_ID_EXTRA) if b != HISTORY)
    return dated[-1] if dated else LATEST


def export_as_of_date(context: Mapping[str, Any]) -> str | None:
    """The as-of date a support_churn_export run published (None before its export task has run)."""
    ti = context.get("ti")
    if ti is not None and hasattr(ti, "xcom_pull"):
        result = ti.xcom_pull(task_ids=pipeline.EXPORT_TASK)
        if isinstance(result, Mapping) and result.get("as_of_date"):
            return str(result["as_of_date"])
    conf = _get(context.get("dag_run"), "conf") or {}
    if conf.get("as_of_date"):
        return iso_date(conf["as_of_date"], "run conf 'as_of_date'")
    return _partition_date(context)


def _dag_id(context: Mapping[str, Any]) -> str | None:
    return (_get(context.get("dag"), "dag_id") or _get(context.get("dag_run"), "dag_id")
            or _get(context.get("ti"), "dag_id"))


def run_date(context: Mapping[str, Any]) -> str | None:
    """The date the run worked on: a batch (`YYYY-MM-DD` or `history`), an as-of date, LATEST, or None if unknown."""
    dag_id = _dag_id(context)
    if dag_id == pipeline.EXTRACT_DAG:
        return extract_batch_id(context)
    if dag_id == pipeline.TRANSFORM_DAG:
        return transform_as_of_date(context)
    if dag_id == pipeline.EXPORT_DAG:
        return export_as_of_date(context)
    conf = _get(context.get("dag_run"), "conf") or {}
    for key in ("batch", "date", "as_of_date"):
        if conf.get(key):
            return str(conf[key])
    logical = _as_date(context.get("logical_date") or _get(context.get("dag_run"), "logical_date"))
    return logical.isoformat() if logical else None


def dbt_as_of_value(context: Mapping[str, Any]) -> str:
    """The value of the dbt as-of variable for a transform run: the date, or "" for LATEST."""
    as_of = transform_as_of_date(context)
    return "" if as_of in (LATEST, None) else as_of
