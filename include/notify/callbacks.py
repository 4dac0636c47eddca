"""What the DAGs attach: the task failure notifier (in `default_args`), the DAG-level success/failure callbacks
(run state, recovery all-clear) and the late-run deadline alert.

- Task failure → `FailureAlertNotifier`: Airflow calls `on_failure_callback` only when the last try failed, so a
  task with retries=2 sends one alert, after its third try. No `on_retry_callback` is set on purpose. The
  transform's dbt sensors use `WatcherSensorAlertNotifier` (one failed dbt build = one alert, from the producer).
  Either first records the task in the run summary's `failed_tasks` (alerts on or off).
- DAG run succeeded → `on_dag_success`: records the state; if the DAG's previous run had failed, an all-clear.
  A plain function, not a notifier object: Airflow calls DAG-level callbacks on the serialized DAG, where a
  notifier cannot render its templates.
- DAG run failed → `on_dag_failure`: records the state (the task alert has already gone out).
- Late → `late_run_deadline()`: an Airflow 3 `DeadlineAlert` (queued time + `SA_LATE_AFTER_MINUTES`, only when
  that is set); when a run has not finished by then, the scheduler queues `late_run_alert` on the triggerer.

All of it is quiet when no channel is configured: nothing is sent and nothing raises.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Any

from airflow.sdk import AsyncCallback, BaseNotifier, DeadlineAlert, DeadlineReference

from include import pipeline, run_summary
from include.config import get_settings
from include.notify.channels import deliver
from include.notify.messages import failure_alert, late_alert, recovery_alert, worked_on

log = logging.getLogger(__name__)


def _channels_on() -> bool:
    settings = get_settings()
    return settings.email_alerts_on or settings.webhook_alerts_on


class FailureAlertNotifier(BaseNotifier):
    """Task-level `on_failure_callback`: e-mail + webhook naming DAG, task, run, date, try, the exception, the
    failed expectations / dbt tests with table and column, and the link to the task log."""

    def notify(self, context: Any) -> None:
        states = _run_task_states(context["ti"])  # read once: for the run summary and the subclass's rule
        _record_failed_task(context, states)
        if not _channels_on() or self.stays_quiet(context, states):
            return
        try:
            alert = failure_alert(dict(context))
        except Exception as exc:  # never let the alert hide the task's own failure
            log.warning("failure alert not built: %s: %s", type(exc).__name__, exc)
            return
        deliver(alert)

    def stays_quiet(self, context: Any, states: dict[str, str] | None) -> bool:
        """No alert for this failure (a subclass's rule, given the run's task states or None if unreadable); the
        task is recorded as failed all the same."""
        return False


def _record_failed_task(context: Any, states: dict[str, str] | None) -> None:
    ti = context["ti"]
    try:
        run_summary.record_failed_task(ti.dag_id, ti.run_id, ti.task_id, worked_on(dict(context)), states)
    except Exception as exc:  # the alert matters more than the summary
        log.warning("failed task %s not recorded in the run summary: %s: %s", ti.task_id, type(exc).__name__, exc)


def _run_task_states(ti: Any) -> dict[str, str] | None:
    """task id → state of every task of this run as Airflow reports them; None if unreadable."""
    try:
        # imported when a callback runs: the task runner is heavy and DAG files import this module
        from airflow.sdk.execution_time.task_runner import RuntimeTaskInstance

        states = RuntimeTaskInstance.get_task_states(dag_id=ti.dag_id, run_ids=[ti.run_id])
        return {task: str(state) for task, state in (states.get(ti.run_id) or {}).items()}
    except Exception as exc:
        log.warning("task states of %s not read: %s: %s", ti.run_id, type(exc).__name__, exc)
        return None


def task_failure_callbacks() -> list[Any]:
    """For `default_args["on_failure_callback"]`."""
    return [FailureAlertNotifier()]


class WatcherSensorAlertNotifier(FailureAlertNotifier):
    """For Cosmos' WATCHER sensors: no alert when the run's dbt build (the producer task) failed.

    Then the sensor only reported what that build did, and the producer's alert already names the failed tests —
    a second alert per touched model would be noise. A sensor that failed otherwise (it ran dbt itself after a
    clear, or its producer did not fail) alerts as any task does."""

    producer_task_id = pipeline.DBT_PRODUCER_TASK

    def stays_quiet(self, context: Any, states: dict[str, str] | None) -> bool:
        if states is not None and states.get(self.producer_task_id) == "failed":
            log.info("no alert from %s: the dbt build of this run failed and alerted", context["ti"].task_id)
            return True
        return False  # unknown → alert rather than stay quiet


def sensor_failure_callbacks() -> list[Any]:
    """`on_failure_callback` of the transform DAG's WATCHER sensors."""
    return [WatcherSensorAlertNotifier()]


def on_dag_success(context: Any) -> None:
    """Record the run as successful; send an all-clear if the DAG's previous run had failed."""
    context = dict(context)
    dag_id = context["dag"].dag_id
    run_id = context["run_id"]
    try:
        previous = run_summary.last_verdict(dag_id)
        date_worked_on = run_summary.record_final_state(dag_id, run_id, "success", worked_on(context))
    except Exception as exc:
        log.warning("run state of %s/%s not recorded: %s: %s", dag_id, run_id, type(exc).__name__, exc)
        return
    if previous and previous["state"] == "failed" and _channels_on():
        deliver(recovery_alert(dag_id, run_id, date_worked_on, previous))


def on_dag_failure(context: Any) -> None:
    """Record the run as failed: the next successful run of the DAG then sends the all-clear."""
    context = dict(context)
    dag_id = context["dag"].dag_id
    try:
        run_summary.record_final_state(dag_id, context["run_id"], "failed", worked_on(context))
    except Exception as exc:
        log.warning("run state of %s/%s not recorded: %s: %s", dag_id, context["run_id"], type(exc).__name__, exc)


async def late_run_alert(context: dict[str, Any] | None = None, late_after_minutes: float | None = None,
                         **_: Any) -> str:
    """Deadline callback (runs on the triggerer): the run has not finished by its deadline.

    A run that already failed is skipped — its failure alert went out; the deadline is about runs still going.
    Returns a short text: Airflow stores it as the callback's output (a text column — a dict there crashes the
    triggerer)."""
    context = context or {}
    dag_run = context.get("dag_run") or {}
    if str(dag_run.get("state")) in ("failed", "success"):
        return f"no late alert: the run is {dag_run.get('state')}"
    settings = get_settings()
    if not (settings.email_alerts_on or settings.webhook_alerts_on):
        return "no late alert: no alert channel configured"
    alert = late_alert(dag_run, context.get("deadline") or {}, late_after_minutes)
    outcome = await asyncio.to_thread(deliver, alert, settings)
    return "late alert: " + ", ".join(f"{channel} {result}" for channel, result in outcome.items())


def late_run_deadline() -> DeadlineAlert | None:
    """Queued time + `SA_LATE_AFTER_MINUTES` (read when the DAG is parsed) for every run of the nightly chain;
    None when the setting is unset.

    Opt-in rather than on by default: in Airflow 3.3.2 `dag.test()` of a DAG with a deadline crashes when the run
    succeeds (`DagRun.update_state` looks the deadline up by id, but under `dag.test()` it holds the serialized
    dict: "can't adapt type 'dict'"), and the project's tests and `airflow dags test` rely on `dag.test()`."""
    minutes = get_settings().late_after_minutes
    if minutes is None:
        return None
    return DeadlineAlert(
        reference=DeadlineReference.DAGRUN_QUEUED_AT,
        interval=timedelta(minutes=minutes),
        callback=AsyncCallback(late_run_alert, kwargs={"late_after_minutes": minutes}),
        name="support-analytics late run",
    )


def dag_alerting() -> dict[str, Any]:
    """The DAG-level arguments every DAG of the chain takes: `@dag(..., **dag_alerting())`."""
    return {"on_success_callback": on_dag_success, "on_failure_callback": on_dag_failure,
            "deadline": late_run_deadline()}  # None = no deadline
