"""Alerts end to end: real DAG runs (`dag.test()`), real SMTP (aiosmtpd) and HTTP receivers on loopback.

What an on-call engineer relies on: a failed extract, a failed validation and a failed dbt test each arrive once
(after the retries) by e-mail and webhook, naming DAG, task, run, date, try, the failed checks with table and
column, and the log link; the first success afterwards sends an all-clear; nothing is sent (and nothing breaks)
when no channel is configured; every run leaves its row in `audit.run_summary`.

Runs in file order on one warehouse: each test starts from the state the previous one left (noted per test).
"""

from __future__ import annotations

import json
import time
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pendulum
import pytest

from include.config import get_settings
from include.warehouse.connect import connect
from tests.airflow_helpers import delete_orphan_ticket, insert_orphan_ticket, load_dag, task_states
from tests.receivers import RECIPIENTS, Receivers

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

DAY = pendulum.datetime(2025, 11, 1, 2, tz="UTC")
BAD_DAY = pendulum.datetime(2025, 11, 2, 2, tz="UTC")
ALERT_ENV = ("SA_ALERT_EMAILS", "SA_ALERT_WEBHOOK_URL", "SA_ALERT_WEBHOOK_CONN_ID", "AIRFLOW_CONN_SMTP_DEFAULT")



def _summary(dag_id: str, run_id: str) -> dict[str, Any]:
    with connect("admin") as conn, conn.cursor() as cur:
        cur.execute("select * from audit.run_summary where dag_id = %s and run_id = %s", (dag_id, run_id))
        row = cur.fetchone()
        assert row is not None, f"no run summary for {dag_id} {run_id}"
        return dict(zip([d.name for d in cur.description or []], row, strict=True))


def _log_url(dag_id: str, run_id: str, task_id: str, try_number: int) -> str:
    from include.airflow_local import base_url

    return f"{base_url(get_settings())}/dags/{dag_id}/runs/{quote(run_id)}/tasks/{task_id}?try_number={try_number}"


@pytest.fixture(scope="module")
def receivers() -> Any:
    started = Receivers()
    started.start()
    yield started
    started.stop()


@pytest.fixture
def alerts_off(monkeypatch: pytest.MonkeyPatch, receivers: Receivers) -> Receivers:
    for name in ALERT_ENV:
        monkeypatch.delenv(name, raising=False)
    receivers.clear()
    return receivers


@pytest.fixture
def alerts_on(monkeypatch: pytest.MonkeyPatch, receivers: Receivers) -> Receivers:
    for name, value in receivers.env().items():
        monkeypatch.setenv(name, value)
    receivers.clear()
    return receivers


@pytest.fixture(scope="module")
def history(airflow_db, landing):  # type: ignore[no-untyped-def]
    """Empty warehouse (run summaries too) with the history landed directly (no DAG run)."""
    from include.ingest.batch import load_batch
    from tests.conftest import truncate_warehouse

    settings = get_settings()
    truncate_warehouse(settings)
    with connect("admin", settings) as conn:
        conn.execute("truncate audit.run_summary")
    load_batch("history", settings)
    return landing


@pytest.fixture(scope="module")
def defective_landing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small landing zone whose 2025-11-02 tickets have an empty required column: `load_support_tickets` fails."""
    from include.simulator import generate

    root = tmp_path_factory.mktemp("defective") / "landing"
    generate(root, scale=0.1, start=date(2025, 11, 2), end=date(2025, 11, 2),
             defects=["null_required:support_tickets:2025-11-02"])
    return root


def _run_bad_extract(defective_landing: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("SA_LANDING_ROOT", str(defective_landing))
    run = load_dag("support_extract").test(logical_date=BAD_DAY)
    monkeypatch.delenv("SA_LANDING_ROOT")
    states = task_states(run)
    assert run.state == "failed" and states["load_support_tickets"] == "failed", states
    assert states["validate_batch"] == "upstream_failed" and states["summarize_run"] == "success", states
    return run


def test_nothing_is_sent_and_nothing_fails_when_no_channel_is_configured(  # type: ignore[no-untyped-def]
        history, defective_landing, alerts_off, monkeypatch, capfd) -> None:
    run = _run_bad_extract(defective_landing, monkeypatch)
    time.sleep(1)
    assert alerts_off.mails == [] and alerts_off.posts == []
    output = capfd.readouterr()
    text = output.out + output.err
    assert "alert not delivered" not in text and "alert not built" not in text
    assert "Error when executing on_failure_callback" not in text and "Callback failed" not in text
    ours = [line for line in text.splitlines() if "[include.notify" in line or "[include.run_summary" in line]
    assert not [line for line in ours if "[warning" in line or "[error" in line], ours
    row = _summary("support_extract", run.run_id)
    assert (row["state"], row["run_date"], row["failed_tasks"]) == ("failed", "2025-11-02", "load_support_tickets")
    assert row["rows_quarantined"] > 0 and row["validations_passed"] is None


def test_refused_extract_alerts_once_at_once_without_retries(defective_landing, alerts_on, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    run = _run_bad_extract(defective_landing, monkeypatch)
    tries = {ti.task_id: ti.try_number for ti in run.get_task_instances()}
    assert tries["load_support_tickets"] == 1  # refused input (a LoadError) does not heal: no retries
    alerts_on.wait(1, 1)
    time.sleep(1)  # nothing more may arrive
    assert len(alerts_on.mails) == 1 and len(alerts_on.posts) == 1, (alerts_on.mails, alerts_on.posts)

    recipients, mail = alerts_on.mails[0]
    assert sorted(recipients) == sorted(RECIPIENTS)
    subject = str(mail["Subject"])
    assert "FAILED support_extract.load_support_tickets" in subject and "2025-11-02" in subject and "1 of 3" in subject
    body = alerts_on.html()
    log_url = _log_url("support_extract", run.run_id, "load_support_tickets", 1)
    for expected in ("support_extract", "load_support_tickets", run.run_id, "2025-11-02T02:00:00+00:00",
                     "1 of 3", "AirflowFailException: QuarantineThresholdExceeded", "analytics.support_tickets",
                     "audit.quarantine"):
        assert expected in body, expected
    assert f"href='{log_url}'" in body.replace("&amp;", "&")

    post = alerts_on.posts[0]
    assert post["path"] == "/hooks/support-analytics" and post["content_type"] == "application/json"
    payload = post["json"]
    assert set(payload) == {"text", "blocks"}
    assert payload["text"].startswith("Task load_support_tickets of support_extract failed for 2025-11-02")
    assert run.run_id in payload["text"] and log_url in payload["text"]
    assert "QuarantineThresholdExceeded" in payload["text"]
    buttons = [e for b in payload["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert buttons[0]["url"] == log_url
    _keep("failed_extract", alerts_on)


def test_first_success_after_a_failure_sends_an_all_clear_and_a_summary(history, alerts_on) -> None:  # type: ignore[no-untyped-def]
    """State: support_extract's last run (2025-11-02) failed."""
    from include.run_summary import last_verdict

    failed = last_verdict("support_extract")
    assert failed is not None and failed["state"] == "failed"
    run = load_dag("support_extract").test(logical_date=DAY)
    assert run.state == "success", task_states(run)
    alerts_on.wait(1, 1)
    assert len(alerts_on.mails) == 1 and len(alerts_on.posts) == 1
    subject = str(alerts_on.mails[0][1]["Subject"])
    assert subject.startswith("[support-analytics] RECOVERED support_extract for 2025-11-01")
    text = alerts_on.posts[0]["json"]["text"]
    assert "All clear" in text and run.run_id in text and "load_support_tickets" in text
    assert f"after the failed run {failed['run_id']}" in text and failed["run_id"] != run.run_id
    _keep("recovered_extract", alerts_on)

    row = _summary("support_extract", run.run_id)
    expected_rows = sum(history.folder("2025-11-01").rows.values())
    assert (row["state"], row["run_date"], row["failed_tasks"]) == ("success", "2025-11-01", None)
    assert row["rows_landed"] == expected_rows and row["rows_quarantined"] == 0
    assert row["validations_passed"] > 90 and row["validations_failed"] == 0  # a night: the batch suites
    assert row["load_seconds"] > 0 and row["validation_seconds"] > 0 and row["task_seconds"] >= row["load_seconds"]
    assert row["models_built"] is None and row["exported_rows"] is None

    alerts_on.clear()  # a second success in a row is not a recovery
    again = load_dag("support_extract").test(logical_date=DAY)
    assert again.state == "success"
    time.sleep(1)
    assert alerts_on.mails == [] and alerts_on.posts == []


def test_failed_validation_names_each_failed_expectation_then_recovers_on_rerun(  # type: ignore[no-untyped-def]
        alerts_on, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """State: history and 2025-11-01 landed and validated."""
    monkeypatch.setenv("SA_FULL_CHECK_WEEKDAY", "6")  # DAY (a Saturday) is the weekly full-check day
    insert_orphan_ticket()  # only the gate's whole-table check catches it
    try:
        run = load_dag("support_extract").test(logical_date=DAY)
        assert run.state == "failed" and task_states(run)["validate_batch"] == "failed"
        alerts_on.wait(1, 1)
        time.sleep(0.5)
        assert len(alerts_on.mails) == 1 and len(alerts_on.posts) == 1
        subject = str(alerts_on.mails[0][1]["Subject"])
        assert "FAILED support_extract.validate_batch for 2025-11-01 (try 1 of 1): 1 failed check(s)" in subject
        body = alerts_on.html()
        assert "<b>unexpected_rows_expectation</b> on <code>support_tickets.customer_id</code>" in body
        assert "C99999999" in body and "ValidationFailed" in body
        assert _log_url("support_extract", run.run_id, "validate_batch", 1) in body.replace("&amp;", "&")
        payload = alerts_on.posts[0]["json"]
        checks = next(b["text"]["text"] for b in payload["blocks"]
                      if b["type"] == "section" and "text" in b and b["text"]["text"].startswith("*Failed checks*"))
        assert "• expectation unexpected_rows_expectation on support_tickets.customer_id" in checks
        _keep("failed_validation", alerts_on)
        row = _summary("support_extract", run.run_id)
        assert row["state"] == "failed" and row["validations_failed"] == 1 and row["validations_passed"] > 100
    finally:
        delete_orphan_ticket()

    alerts_on.clear()  # re-run after the fix: an all-clear naming the run that had failed and its failed task
    rerun = load_dag("support_extract").test(logical_date=DAY)
    assert rerun.state == "success"
    alerts_on.wait(1, 1)
    assert len(alerts_on.mails) == 1 and len(alerts_on.posts) == 1
    assert "RECOVERED support_extract for 2025-11-01" in str(alerts_on.mails[0][1]["Subject"])
    text = alerts_on.posts[0]["json"]["text"]
    assert f"after the failed run {run.run_id}" in text and "Its failed tasks: validate_batch" in text


def test_failed_dbt_test_names_test_model_and_column_then_all_clear_and_summaries(alerts_on) -> None:  # type: ignore[no-untyped-def]
    """State: history and 2025-11-01 landed and validated; the transform has not run yet."""
    with connect("admin") as conn:  # a value only a dbt test catches once it is past the gate
        conn.execute("update analytics.customer_products set monthly_revenue = -5 where holding_id ="
                     " (select min(holding_id) from analytics.customer_products)")
    try:  # written behind the extract (no new load): only the full check, asked for in the conf, tests every row
        run = load_dag("support_transform").test(run_conf={"as_of_date": "2025-11-01", "full_tests": True})
        states = task_states(run)
        assert run.state == "failed" and states["stg_customer_products"] == "failed", states
        alerts_on.wait(1, 1)
        time.sleep(1)
        # one alert: from the dbt build (the producer), not again from the model task that reported its failure
        assert len(alerts_on.mails) == 1 and len(alerts_on.posts) == 1
        subject = str(alerts_on.mails[0][1]["Subject"])
        assert "FAILED support_transform.dbt_producer_watcher for 2025-11-01 (try 1 of 1): 1 failed check" in subject
        body = alerts_on.html()
        assert ("<b>accepted_range_stg_customer_products_monthly_revenue__0</b> on "
                "<code>staging.stg_customer_products.monthly_revenue</code> (accepted_range)") in body
        assert "dbt invocation completed with errors" in body and "Got 1 result, configured to fail if != 0" in body
        payload = alerts_on.posts[0]["json"]
        assert ("dbt test accepted_range_stg_customer_products_monthly_revenue__0 on "
                "staging.stg_customer_products.monthly_revenue (accepted_range)") in payload["text"]
        log_url = _log_url("support_transform", run.run_id, "dbt_producer_watcher", 1)
        assert log_url in payload["text"]
        _keep("failed_dbt_test", alerts_on)
        row = _summary("support_transform", run.run_id)
        assert row["state"] == "failed" and row["tests_failed"] >= 1
        assert row["failed_tasks"] == "dbt_producer_watcher, stg_customer_products"
    finally:
        with connect("admin") as conn:
            conn.execute("update analytics.customer_products set monthly_revenue = 5 where monthly_revenue < 0")

    alerts_on.clear()
    fixed = load_dag("support_transform").test(run_conf={"as_of_date": "2025-11-01"})
    assert fixed.state == "success", task_states(fixed)
    alerts_on.wait(1, 1)
    assert "RECOVERED support_transform for 2025-11-01" in str(alerts_on.mails[0][1]["Subject"])
    assert run.run_id in alerts_on.posts[0]["json"]["text"]
    row = _summary("support_transform", fixed.run_id)
    assert (row["state"], row["run_date"], row["failed_tasks"], row["tests_failed"]) == (
        "success", "2025-11-01", None, 0)
    assert row["models_built"] >= 4 and row["tests_passed"] > 40 and row["dbt_seconds"] > 0

    export = load_dag("support_churn_export").test()
    assert export.state == "success", task_states(export)
    row = _summary("support_churn_export", export.run_id)
    manifest = json.loads((Path(get_settings().export_root) / "2025-11-01" / "manifest.json").read_text())
    assert row["run_date"] == "2025-11-01" and row["state"] == "success"
    assert row["exported_rows"] == sum(f["rows"] for f in manifest["files"].values()) // 2  # csv + parquet
    assert row["export_seconds"] > 0

    with connect("admin") as conn, conn.cursor() as cur:
        cur.execute("select * from audit.run_summary_by_date where run_date = '2025-11-01'")
        night = dict(zip([d.name for d in cur.description or []], cur.fetchone(), strict=True))  # type: ignore[arg-type]
    assert (night["extract_state"], night["transform_state"], night["export_state"]) == ("success",) * 3
    assert night["rows_landed"] > 0 and night["models_built"] >= 4 and night["exported_rows"] == row["exported_rows"]


def _keep(name: str, receivers: Receivers) -> None:
    """Keep what the receivers got under tests/artifacts/alerts/ (ignored by git) for people to look at."""
    folder = Path(__file__).resolve().parents[1] / "artifacts" / "alerts"
    folder.mkdir(parents=True, exist_ok=True)
    if receivers.mails:
        mail = receivers.mails[0][1]
        (folder / f"{name}.eml.html").write_text(f"<!-- Subject: {mail['Subject']} -->\n{receivers.html()}")
    if receivers.posts:
        (folder / f"{name}.webhook.json").write_text(json.dumps(receivers.posts[0]["json"], indent=2))


def _callback_outputs(settings: Any) -> list[tuple[str, str]]:
    import psycopg

    with psycopg.connect(settings.admin_url(settings.airflow_db)) as conn:
        return conn.execute("select state, output from callback where output like 'late alert%%'").fetchall()


@pytest.fixture
def late_airflow(receivers: Receivers, monkeypatch_module: pytest.MonkeyPatch, request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    """The real Airflow (scheduler, triggerer, …) started with alerts on and a 3-second deadline on every DAG."""
    for name, value in receivers.env().items():
        monkeypatch_module.setenv(name, value)
    monkeypatch_module.setenv("SA_LATE_AFTER_MINUTES", "0.05")
    receivers.clear()
    return request.getfixturevalue("running_airflow")


def test_a_run_not_finished_by_its_deadline_sends_a_late_alert(late_airflow, receivers) -> None:  # type: ignore[no-untyped-def]
    """Airflow's deadline alert with the real scheduler and triggerer: a run waiting for a delivery that never comes
    (no landing folder for 2025-11-20) passes its deadline; the triggerer runs `late_run_alert`."""
    api = late_airflow
    run_id = api.trigger("support_extract", conf={"date": "2025-11-20"})
    try:
        receivers.wait(1, 1, timeout_s=120)
        assert len(receivers.mails) == 1 and len(receivers.posts) == 1, (receivers.mails, receivers.posts)
        subject = str(receivers.mails[0][1]["Subject"])
        assert subject == (f"[support-analytics] LATE support_extract run {run_id}: "
                           "not finished 3 seconds after it was queued")
        body = receivers.html()
        for expected in ("support_extract", run_id, "2025-11-20", "running", "queued + 3 seconds",
                         "wait_for_delivery"):
            assert expected in body, expected
        payload = receivers.posts[0]["json"]
        run_link = f"{api.base_url}/dags/support_extract/runs/{quote(run_id)}"
        assert [e["url"] for b in payload["blocks"] if b["type"] == "actions" for e in b["elements"]] == [run_link]
        assert api.run("support_extract", run_id)["state"] in ("running", "queued")  # an alert, not an action
        _keep("late_extract", receivers)
        # What the scheduler does when a run of a DAG with a deadline succeeds (prune): look the DAG's deadline
        # alerts up by id. Under the real scheduler these are ids (under dag.test they are not: see callbacks).
        from airflow.models.deadline_alert import DeadlineAlert as DeadlineAlertModel
        from airflow.models.serialized_dag import SerializedDagModel
        from sqlalchemy import create_engine
        from sqlalchemy.orm import Session

        from include.airflow_local import metadata_db_url

        # The running Airflow has its own metadata database (see running_airflow), not this process's.
        engine = create_engine(metadata_db_url(get_settings()))
        with Session(engine) as session:
            alert_ids = SerializedDagModel.get_dag("support_extract", session=session).deadline
            alerts = [DeadlineAlertModel.get_by_id(i, session=session) for i in alert_ids]
        engine.dispose()
        assert [a.name for a in alerts] == ["support-analytics late run"]
        settings = get_settings()  # the triggerer recorded the callback as done (and survived it)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not _callback_outputs(settings):
            time.sleep(1)
        assert _callback_outputs(settings) == [("success", "late alert: email sent, webhook sent")]
    finally:  # let the next Airflow of this session start without a run that waits for hours
        api._request("PATCH", f"/api/v2/dags/support_extract/dagRuns/{run_id}", {"state": "failed"})
