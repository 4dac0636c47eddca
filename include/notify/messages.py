"""What an alert says: built once from the Airflow context, rendered as plain text, HTML (e-mail) and Slack JSON.

Every alert answers the on-call engineer's first questions without opening Airflow: which DAG, task and run,
which date the run worked on, which try, what broke (the exception and the failed checks with table and column)
and where to look (a link to the task log or the run in the UI).
"""

from __future__ import annotations

import html
import logging
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any
from urllib.parse import quote

from include.notify.failed_checks import FailedCheck, default_manifest_path, failed_checks, from_dbt_results
from include.notify.redact import redact
from include.run_dates import run_date
from include.transform.results import pull_results

log = logging.getLogger(__name__)

PREFIX = "[support-analytics]"
MAX_EXCEPTION_CHARS = 2500  # Slack caps a section at 3000 characters; e-mail gets the same text


@dataclass(frozen=True)
class Alert:
    kind: str  # "failure", "recovery", "late", "stale" or "fresh"
    subject: str
    headline: str
    facts: tuple[tuple[str, str], ...]
    exception: str | None = None
    checks: tuple[FailedCheck, ...] = ()
    link: str | None = None
    link_label: str = "Open the task log"
    advice: str | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False)


def ui_base_url() -> str:
    """The Airflow UI as links should point to it (`[api] base_url`, the same setting `ti.log_url` uses)."""
    try:
        from airflow.configuration import conf

        return str(conf.get("api", "base_url", fallback="http://localhost:8080")).rstrip("/")
    except Exception:  # outside Airflow (unit tests, CLI)
        return "http://localhost:8080"


def run_url(dag_id: str, run_id: str) -> str:
    return f"{ui_base_url()}/dags/{dag_id}/runs/{quote(run_id)}"


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def worked_on(context: dict[str, Any]) -> str | None:
    """The date the run worked on (`include.run_dates`), or None when it cannot be told: an alert never fails."""
    try:
        return run_date(context)
    except Exception as exc:
        log.warning("run date not known: %s: %s", type(exc).__name__, exc)
        return None


def _exception_text(exception: BaseException | None) -> str | None:
    if exception is None:
        return None
    text = redact(f"{type(exception).__name__}: {exception}") or ""
    return text if len(text) <= MAX_EXCEPTION_CHARS else text[:MAX_EXCEPTION_CHARS] + " … (truncated; see the log)"


def _failed_dbt_nodes(ti: Any) -> list[FailedCheck]:
    """The dbt nodes that failed in this task's own dbt run (a dbt subprocess names none in its exception)."""
    try:
        results = pull_results(ti, ti.task_id)
    except Exception as exc:
        log.warning("dbt results of %s not read: %s: %s", ti.task_id, type(exc).__name__, exc)
        return []
    return from_dbt_results(results, default_manifest_path())


def failure_alert(context: dict[str, Any]) -> Alert:
    """A task failed for good (retries exhausted): what, where, which date, why, and the log link."""
    ti = context["ti"]
    dag_run = context.get("dag_run")
    logical = context.get("logical_date") or getattr(dag_run, "logical_date", None)
    date_worked_on = worked_on(context)
    exception = context.get("exception")
    error = exception if isinstance(exception, BaseException) else None
    # Database errors quote the data they choke on (a failing row, a duplicate key): never into an alert.
    checks = tuple(replace(c, detail=redact(c.detail)) for c in failed_checks(error) or _failed_dbt_nodes(ti))
    tries = getattr(ti, "max_tries", None)
    try_text = f"{ti.try_number} of {tries + 1}" if isinstance(tries, int) else str(ti.try_number)
    date_text = date_worked_on or (_iso(logical) or "—")
    facts = [
        ("DAG", ti.dag_id),
        ("Task", ti.task_id),
        ("Run", ti.run_id),
        ("Logical date", _iso(logical) or "none (manual or asset-triggered run)"),
        ("Worked on", date_worked_on or "—"),
        ("Try", try_text),
        ("Log", ti.log_url),
    ]
    what = f"{len(checks)} failed check(s)" if checks else (type(exception).__name__ if exception else "failed")
    return Alert(
        kind="failure",
        subject=f"{PREFIX} FAILED {ti.dag_id}.{ti.task_id} for {date_text} (try {try_text}): {what}",
        headline=f"Task {ti.task_id} of {ti.dag_id} failed for {date_text} after try {try_text}.",
        facts=tuple(facts),
        exception=_exception_text(error) or (redact(str(exception)) if exception else None),
        checks=checks,
        link=ti.log_url,
        advice="See the DAG's docs in the UI and the README run-book (“What a failure means”); fix the cause, "
               "then clear the failed task.",
    )


def recovery_alert(dag_id: str, run_id: str, date_worked_on: str | None, previous: dict[str, Any]) -> Alert:
    """The first successful run of a DAG after a failed one."""
    failed_tasks = previous.get("failed_tasks") or "—"
    facts = (
        ("DAG", dag_id),
        ("Successful run", run_id),
        ("Worked on", date_worked_on or "—"),
        ("Previous failed run", str(previous.get("run_id"))),
        ("It worked on", str(previous.get("run_date") or "—")),
        ("Its failed tasks", failed_tasks),
    )
    return Alert(
        kind="recovery",
        subject=f"{PREFIX} RECOVERED {dag_id} for {date_worked_on or run_id}",
        headline=(f"All clear: {dag_id} run {run_id} succeeded on re-run (it had failed in {failed_tasks})."
                  if previous.get("run_id") == run_id else
                  f"All clear: {dag_id} succeeded again (run {run_id}) after the failed run {previous.get('run_id')}."),
        facts=facts,
        link=run_url(dag_id, run_id),
        link_label="Open the run",
    )


def late_alert(dag_run: dict[str, Any], deadline: dict[str, Any], late_after_minutes: float | None) -> Alert:
    """A run of the nightly chain has not finished by its deadline (Airflow deadline alert)."""
    dag_id = str(dag_run.get("dag_id"))
    run_id = str(dag_run.get("dag_run_id") or dag_run.get("run_id"))
    logical = dag_run.get("logical_date")
    date_worked_on = worked_on({"dag_run": dag_run, "logical_date": logical})
    if late_after_minutes is None:
        budget = "its deadline"
    elif late_after_minutes >= 1:
        budget = f"{late_after_minutes:g} minutes"
    else:
        budget = f"{late_after_minutes * 60:g} seconds"
    facts = (
        ("DAG", dag_id),
        ("Run", run_id),
        ("Logical date", str(logical) if logical else "none (manual or asset-triggered run)"),
        ("Worked on", date_worked_on or "—"),
        ("State", str(dag_run.get("state"))),
        ("Queued at", str(dag_run.get("queued_at") or "—")),
        ("Deadline", f"{_iso(deadline.get('deadline_time'))} (queued + {budget})"),
    )
    return Alert(
        kind="late",
        subject=f"{PREFIX} LATE {dag_id} run {run_id}: not finished {budget} after it was queued",
        headline=f"{dag_id} run {run_id} has not finished {budget} after it was queued; the nightly data is late.",
        facts=facts,
        link=run_url(dag_id, run_id),
        link_label="Open the run",
        advice="What to look at: a sensor still waiting (wait_for_delivery) means the source delivery is late; a "
               "task running long means a slow warehouse or a lock. The run goes on; this alert changes nothing.",
    )


def freshness_alert(stale: bool, description: str, last_landed_batch: str | None) -> Alert:
    """The marts went stale (nothing built them for too long), or are fresh again (`include.freshness`)."""
    if not stale:
        return Alert(kind="fresh", subject=f"{PREFIX} FRESH again: the marts were rebuilt",
                     headline="All clear: support_transform built the marts again.", facts=(("Now", description),),
                     link=ui_base_url(), link_label="Open Airflow")
    return Alert(
        kind="stale",
        subject=f"{PREFIX} STALE marts: no successful build for too long",
        headline="The marts are stale: no run of the chain has rebuilt them within the limit.",
        facts=(("State", description), ("Last landed batch", last_landed_batch or "—")),
        link=ui_base_url(),
        link_label="Open Airflow",
        advice="What to look at: a paused DAG or a stopped scheduler (no runs at all), a source that stopped "
               "delivering (wait_for_delivery waiting), or a failed day holding later days at validate_batch "
               "(see the run-book). Each of those has its own alert only when something runs and fails.",
    )


# --- rendering -------------------------------------------------------------------------------------------------

def as_text(alert: Alert) -> str:
    lines = [alert.headline, ""]
    lines += [f"{label}: {value}" for label, value in alert.facts]
    if alert.checks:
        lines += ["", "Failed checks:"] + [f"- {c.describe()}" for c in alert.checks]
    if alert.exception:
        lines += ["", "Exception:", alert.exception]
    if alert.link and not any(value == alert.link for _, value in alert.facts):
        lines += ["", f"{alert.link_label}: {alert.link}"]
    if alert.advice:
        lines += ["", alert.advice]
    return "\n".join(lines)


def as_html(alert: Alert) -> str:
    e = html.escape
    rows = "".join(
        f"<tr><th align='left' style='padding-right:1em'>{e(label)}</th><td>"
        + (f"<a href='{e(value)}'>{e(value)}</a>" if value.startswith("http") else e(value)) + "</td></tr>"
        for label, value in alert.facts)
    parts = [f"<p><b>{e(alert.headline)}</b></p>", f"<table>{rows}</table>"]
    if alert.checks:
        items = "".join(
            f"<li><b>{e(c.name)}</b> on <code>{e(c.where)}</code>"
            + (f" ({e(c.check_type)})" if c.check_type and c.check_type != c.name else "")
            + (f": {e(c.detail)}" if c.detail else "") + "</li>" for c in alert.checks)
        parts.append(f"<p><b>Failed checks</b></p><ul>{items}</ul>")
    if alert.exception:
        parts.append(f"<p><b>Exception</b></p><pre>{e(alert.exception)}</pre>")
    if alert.link:
        parts.append(f"<p><a href='{e(alert.link)}'>{e(alert.link_label)}</a></p>")
    if alert.advice:
        parts.append(f"<p>{e(alert.advice)}</p>")
    return "<html><body>" + "\n".join(parts) + "</body></html>"


def _mrkdwn(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def as_slack(alert: Alert) -> dict[str, Any]:
    """Slack-compatible webhook payload: `text` (the whole message, for notifications and plain receivers) and
    `blocks` (header, facts, failed checks, exception, link)."""
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": alert.subject[:150]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": _mrkdwn(alert.headline)[:3000]}},
        {"type": "section", "fields": [
            {"type": "mrkdwn", "text": f"*{label}*\n{_mrkdwn(value)}"[:2000]} for label, value in alert.facts[:10]]},
    ]
    if alert.checks:
        listed = "\n".join(f"• {_mrkdwn(c.describe())}" for c in alert.checks)
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": f"*Failed checks*\n{listed}"[:3000]}})
    if alert.exception:
        blocks.append({"type": "section", "text": {
            "type": "mrkdwn", "text": f"*Exception*\n```{_mrkdwn(alert.exception)[:2800]}```"}})
    if alert.link:
        blocks.append({"type": "actions", "elements": [
            {"type": "button", "text": {"type": "plain_text", "text": alert.link_label}, "url": alert.link}]})
    return {"text": as_text(alert)[:3900], "blocks": blocks}
