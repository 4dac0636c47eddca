"""One row per DAG run in `audit.run_summary`: what the run worked on and what came out of it.

Who writes what:
- the extract's and the export's last task, `summarize_run` (a teardown: it runs whether the run failed or not and
  does not change the run's state), from what the run itself recorded: the task states and durations Airflow keeps
  (`get_task_breadcrumbs`), the load log and validation results in `audit`, and the export's return value;
- the transform's counts (models built, dbt tests passed/failed, dbt's own time) come from the task that ran dbt, as
  soon as dbt has finished (`keep_dbt_results` calls `summarize_transform`): the transform has no summary task, which
  would add a task process and a scheduling step after its last model;
- `failed_tasks` is written by each failing task's own failure callback (`record_failed_task`): the run's tasks in
  state failed, as Airflow reports them at that moment, plus the failing task itself;
- `state` is only ever set by the DAG-level callbacks (`record_final_state`): 'running' until the run has finished,
  then Airflow's verdict; a successful run has no failed tasks. A cleared and re-run task keeps the run's last
  verdict until the new one, so the success callback can tell a recovery — the DAG's last verdict was 'failed' —
  for a new run and a re-run alike.

The view `audit.run_summary_by_date` folds the latest run of each DAG into one row per date. The date a run worked
on is `include.run_dates.run_date`'s answer, as in the alerts.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from typing import Any

from include import pipeline
from include.run_dates import LATEST, run_date
from include.transform.results import DBT_ELAPSED_XCOM, CompactResult, count_results, pull_results
from include.warehouse.connect import connect

log = logging.getLogger(__name__)

RAN_TI_STATES = ("success", "failed")


@dataclass
class RunSummary:
    dag_id: str
    run_id: str
    run_date: str
    state: str
    logical_date: Any = None
    rows_landed: int | None = None
    rows_quarantined: int | None = None
    validations_passed: int | None = None
    validations_failed: int | None = None
    models_built: int | None = None
    tests_passed: int | None = None
    tests_failed: int | None = None
    exported_rows: int | None = None
    load_seconds: float | None = None
    validation_seconds: float | None = None
    dbt_seconds: float | None = None
    export_seconds: float | None = None
    task_seconds: float | None = None
    started_at: Any = None


def _breadcrumbs(context: dict[str, Any]) -> list[dict[str, Any]]:
    """State and duration of every finished task of this run (the summary task itself is still running)."""
    # Airflow's task runner is imported at run time only: it is heavy, and DAG files import this module.
    from airflow.sdk.execution_time.task_runner import RuntimeTaskInstance

    ti = context["ti"]
    crumbs = RuntimeTaskInstance.get_task_breadcrumbs(dag_id=ti.dag_id, run_id=ti.run_id)
    return [dict(c) for c in crumbs if c.get("task_id") != ti.task_id]


def _seconds(crumbs: list[dict[str, Any]], predicate: Callable[[str], bool] | None = None) -> float | None:
    """Summed durations of the tasks that ran (all tasks, or those whose id matches `predicate`)."""
    chosen = [c for c in crumbs if c.get("state") in RAN_TI_STATES and (predicate is None or predicate(c["task_id"]))]
    durations = [float(c["duration"]) for c in chosen if c.get("duration") is not None]
    return round(sum(durations), 3) if durations else None


def _base(context: dict[str, Any], crumbs: list[dict[str, Any]]) -> RunSummary:
    ti = context["ti"]
    dag_run = context.get("dag_run")
    return RunSummary(
        dag_id=ti.dag_id, run_id=ti.run_id, run_date=run_date(context) or "unknown", state="running",
        logical_date=context.get("logical_date"), task_seconds=_seconds(crumbs),
        started_at=getattr(dag_run, "start_date", None))


def _states(crumbs: list[dict[str, Any]]) -> dict[str, str]:
    return {c["task_id"]: str(c.get("state")) for c in crumbs}


# --- per DAG ---------------------------------------------------------------------------------------------------

def summarize_extract(context: dict[str, Any]) -> dict[str, Any]:
    """Rows landed and quarantined by the loads that ran, and the gate's passed/failed expectations."""
    crumbs = _breadcrumbs(context)
    states = _states(crumbs)
    summary = _base(context, crumbs)
    batch_id = summary.run_date
    prefix = pipeline.LOAD_TASK_PREFIX
    loaded = [t.removeprefix(prefix) for t, s in states.items() if t.startswith(prefix) and s in RAN_TI_STATES]
    with connect("loader") as conn:
        if loaded:
            landed, quarantined = conn.execute(
                "select coalesce(sum(rows_loaded) filter (where status = 'success'), 0),"
                " coalesce(sum(rows_quarantined), 0) from audit.load_batches"
                " where batch_id = %s and table_name = any(%s)", (batch_id, loaded)).fetchone()
            summary.rows_landed, summary.rows_quarantined = int(landed), int(quarantined)
        if states.get(pipeline.VALIDATE_BATCH_TASK) in RAN_TI_STATES:
            passed, failed = conn.execute(
                "select count(*) filter (where success), count(*) filter (where not success)"
                " from audit.validation_results where run_id = (select run_id from audit.validation_results"
                " where batch_id = %s order by validated_at desc limit 1)", (batch_id,)).fetchone()
            summary.validations_passed, summary.validations_failed = int(passed), int(failed)
    summary.load_seconds = _seconds(crumbs, lambda t: t.startswith(prefix))
    summary.validation_seconds = _seconds(crumbs, lambda t: t == pipeline.VALIDATE_BATCH_TASK)
    return write(summary)


def summarize_transform(context: dict[str, Any], results: list[CompactResult], dbt_seconds: float) -> dict[str, Any]:
    """Models built and dbt tests passed/failed, and dbt's own time, written by the task that just ran dbt
    (`results`, `dbt_seconds`: that invocation's). The producer's `dbt build` is the run's only dbt call unless model
    tasks were cleared: a model task that ran dbt itself adds the results every other task of the run kept, so the
    row counts each task's latest dbt call once. `task_seconds` is not recorded for the transform (its model tasks
    wait beside the build: their summed durations say nothing)."""
    summary = _base(context, [])
    ti = context["ti"]
    if ti.task_id != pipeline.DBT_PRODUCER_TASK:
        others = [t for t in context["dag"].task_ids if t != ti.task_id]
        results = results + pull_results(ti, others)
        dbt_seconds += sum(float(ti.xcom_pull(task_ids=t, key=DBT_ELAPSED_XCOM) or 0) for t in others)
    for name, value in count_results(results).items():
        setattr(summary, name, value)
    summary.dbt_seconds = round(dbt_seconds, 3)
    return write(summary)


def summarize_export(context: dict[str, Any]) -> dict[str, Any]:
    """Rows exported (both lists) for the as-of date, from the export task's return value."""
    crumbs = _breadcrumbs(context)
    summary = _base(context, crumbs)
    result = context["ti"].xcom_pull(task_ids=pipeline.EXPORT_TASK) or {}
    if result.get("rows") is not None:
        summary.exported_rows = int(sum(result["rows"].values()))
    summary.export_seconds = _seconds(crumbs, lambda t: t == pipeline.EXPORT_TASK)
    return write(summary)


# --- storage ---------------------------------------------------------------------------------------------------

_COLUMNS = [f.name for f in fields(RunSummary)]


def write(summary: RunSummary) -> dict[str, Any]:
    """Upsert the run's row (a cleared and re-run task rewrites it) — all but `state`, see the module doc."""
    values = asdict(summary)
    updates = ", ".join(f"{c} = excluded.{c}" for c in _COLUMNS if c not in ("dag_id", "run_id", "state"))
    with connect("loader") as conn:
        conn.execute(
            f"insert into audit.run_summary ({', '.join(_COLUMNS)}, finished_at, updated_at)"
            f" values ({', '.join(['%s'] * len(_COLUMNS))}, now(), now())"
            f" on conflict (dag_id, run_id) do update set {updates}, finished_at = now(), updated_at = now()",
            [values[c] for c in _COLUMNS])
    log.info("run summary: %s", {k: v for k, v in values.items() if v is not None})
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in values.items()}


def record_final_state(dag_id: str, run_id: str, state: str, run_date: str | None) -> str:
    """The DAG run's final state (from the DAG-level callbacks); inserts a bare row if no summary was written.
    A successful run has no failed tasks (one cleared and re-run successfully is no longer listed).

    Returns the date the run worked on as recorded: the summary's, written from the whole task context (a DAG-level
    callback's context may lack the run's partition key), else `run_date`."""
    with connect("loader") as conn:
        row = conn.execute(
            "insert into audit.run_summary (dag_id, run_id, run_date, state, finished_at, updated_at)"
            " values (%s, %s, %s, %s, now(), now()) on conflict (dag_id, run_id) do update"
            " set state = excluded.state, finished_at = now(), updated_at = now(),"
            " failed_tasks = case when excluded.state = 'success' then null else audit.run_summary.failed_tasks end,"
            " run_date = case when audit.run_summary.run_date in ('unknown', %s)"
            " and excluded.run_date <> 'unknown' then excluded.run_date else audit.run_summary.run_date end"
            " returning run_date",
            (dag_id, run_id, run_date or "unknown", state, LATEST)).fetchone()
    return str(row[0])


def record_failed_task(dag_id: str, run_id: str, task_id: str, run_date: str | None,
                       states: dict[str, str] | None) -> str:
    """A task of the run failed (its failure callback): `failed_tasks` becomes the tasks Airflow reports failed
    (`states`: task id → state, None when they could not be read), this one, and those listed before that have not
    succeeded since (a task cleared and re-run successfully drops out). Returns what was recorded."""
    with connect("loader") as conn, conn.transaction():
        conn.execute(
            "insert into audit.run_summary (dag_id, run_id, run_date, state, updated_at)"
            " values (%s, %s, %s, 'running', now()) on conflict (dag_id, run_id) do nothing",
            (dag_id, run_id, run_date or "unknown"))
        listed = conn.execute("select failed_tasks from audit.run_summary where dag_id = %s and run_id = %s"
                              " for update", (dag_id, run_id)).fetchone()[0]
        failed = failed_task_list(listed, task_id, states)
        conn.execute("update audit.run_summary set failed_tasks = %s, updated_at = now()"
                     " where dag_id = %s and run_id = %s", (failed, dag_id, run_id))
    return failed


SUCCEEDED_TI_STATES = frozenset({"success", "skipped", "removed"})


def failed_task_list(listed: str | None, task_id: str, states: dict[str, str] | None) -> str:
    """`failed_tasks` after `task_id` failed: see `record_failed_task` (pure, for the unit test)."""
    states = states or {}
    before = {t for t in (listed or "").split(", ") if t and states.get(t) not in SUCCEEDED_TI_STATES}
    now_failed = {t for t, state in states.items() if state == "failed"}
    return ", ".join(sorted(before | now_failed | {task_id}))


def last_verdict(dag_id: str) -> dict[str, Any] | None:
    """The DAG's latest finished run as recorded so far (run id, date, state, failed tasks), or None.

    Called before the current run's verdict is recorded: a new run is still 'running' and not considered; a
    re-run of a failed run still carries its 'failed'."""
    with connect("loader") as conn:
        row = conn.execute(
            "select run_id, run_date, state, failed_tasks from audit.run_summary"
            " where dag_id = %s and state <> 'running'"
            " order by finished_at desc nulls last, updated_at desc limit 1", (dag_id,)).fetchone()
    return dict(zip(("run_id", "run_date", "state", "failed_tasks"), row, strict=True)) if row else None
