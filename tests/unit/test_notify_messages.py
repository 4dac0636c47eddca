"""Alert content without Airflow runs: failed checks read from real GX / Cosmos messages and the real dbt manifest,
the three renderings, and the channels' configuration (off by default; webhook URL from an Airflow connection)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from include.config import get_settings
from include.notify import channels, messages
from include.notify.failed_checks import (
    FailedCheck,
    failed_checks,
    from_dbt_message,
    from_dbt_results,
    from_validation_message,
)

MANIFEST = get_settings().dbt_project_dir / "target" / "manifest.json"

# Verbatim shape of include.quality.validate.ValidationFailed (ExpectationOutcome.describe per line).
VALIDATION_MESSAGE = (
    "validation of batch 2025-11-01 failed: 3 of 212 expectations (tables: customers, support_tickets):\n"
    "- unexpected_rows_expectation on support_tickets.customer_id [support_tickets.table]: 1 unexpected"
    " (e.g. 'C99999999')\n"
    "- expect_column_values_to_be_in_set on support_tickets.channel [support_tickets.batch]: 2 unexpected"
    " (e.g. 'fax', 'fax')\n"
    "- expect_table_row_count_to_equal on customers [customers.batch]: observed 41"
)
# Verbatim shape of cosmos.dbt.runner.handle_exception_if_needed.
DBT_MESSAGE = (
    "dbt invocation completed with errors: accepted_range_stg_customer_products_monthly_revenue__0: Got 1 result,"
    " configured to fail if != 0\n"
    "assert_ticket_analytics_has_every_ticket: Got 3 results, configured to fail if != 0\n"
    "mart_ticket_analytics_derived_fields: \n"
    "stg_tickets: Database Error in model stg_tickets (models/staging/stg_tickets.sql)\n"
    "  column \"x\" does not exist\n"
    "  LINE 3: select x from ..."
)


class ValidationFailed(RuntimeError):
    """Same name as include.quality.validate's: matching is by class name (no GX import needed)."""


class CosmosDbtRunError(Exception):
    pass


def test_validation_message_names_expectation_table_and_column() -> None:
    checks = from_validation_message(VALIDATION_MESSAGE)
    assert [(c.name, c.table, c.column) for c in checks] == [
        ("unexpected_rows_expectation", "support_tickets", "customer_id"),
        ("expect_column_values_to_be_in_set", "support_tickets", "channel"),
        ("expect_table_row_count_to_equal", "customers", None),
    ]
    assert checks[0].detail == "1 unexpected (e.g. 'C99999999')"
    assert checks[1].describe() == ("expectation expect_column_values_to_be_in_set on support_tickets.channel"
                                    " (support_tickets.batch): 2 unexpected (e.g. 'fax', 'fax')")
    assert failed_checks(ValidationFailed(VALIDATION_MESSAGE)) == checks


def test_dbt_message_maps_test_names_to_model_column_and_test_type_through_the_manifest() -> None:
    assert MANIFEST.exists(), "make install builds dbt/target/manifest.json"
    checks = failed_checks(CosmosDbtRunError(DBT_MESSAGE), MANIFEST)
    assert checks == [
        FailedCheck("dbt test", "accepted_range_stg_customer_products_monthly_revenue__0",
                    "staging.stg_customer_products", "monthly_revenue", "accepted_range",
                    "Got 1 result, configured to fail if != 0"),
        FailedCheck("dbt test", "assert_ticket_analytics_has_every_ticket",
                    "staging.stg_tickets, marts.mart_ticket_analytics", None, "singular test",
                    "Got 3 results, configured to fail if != 0"),
        FailedCheck("dbt unit test", "mart_ticket_analytics_derived_fields", "marts.mart_ticket_analytics", None,
                    "unit test", None),
        FailedCheck("dbt model", "stg_tickets", "staging.stg_tickets", None, "model",
                    "Database Error in model stg_tickets (models/staging/stg_tickets.sql)"),
    ]
    other = failed_checks(CosmosDbtRunError(
        "dbt invocation completed with errors: not_null_stg_tickets_customer_id: Got 2 results"), MANIFEST)
    assert other[0].describe() == ("dbt test not_null_stg_tickets_customer_id on staging.stg_tickets.customer_id"
                                   " (not_null): Got 2 results")


def test_dbt_run_results_kept_by_the_producer_map_to_model_column_and_test_type() -> None:
    """A dbt subprocess (the transform's producer) names no node in its exception: the alert reads the results."""
    import json

    manifest = json.loads(MANIFEST.read_text())
    by_name = {n["name"]: uid for uid, n in {**manifest["nodes"], **manifest["unit_tests"]}.items()}
    results = [
        [by_name["stg_customer_products"], "success", 0.1, None],
        [by_name["accepted_range_stg_customer_products_monthly_revenue__0"], "fail", 0.05,
         "Got 1 result, configured to fail if != 0"],
        [by_name["not_null_stg_tickets_customer_id"], "pass", 0.04, None],
        [by_name["mart_churned_customers"], "skipped", 0.0, None],
        [by_name["mart_ticket_analytics_derived_fields"], "fail", 0.3, None],
    ]
    assert from_dbt_results(results, MANIFEST) == [
        FailedCheck("dbt test", "accepted_range_stg_customer_products_monthly_revenue__0",
                    "staging.stg_customer_products", "monthly_revenue", "accepted_range",
                    "Got 1 result, configured to fail if != 0"),
        FailedCheck("dbt unit test", "mart_ticket_analytics_derived_fields", "marts.mart_ticket_analytics", None,
                    "unit test", None),
    ]


def test_without_a_manifest_the_dbt_names_are_still_reported(tmp_path) -> None:  # type: ignore[no-untyped-def]
    checks = from_dbt_message(DBT_MESSAGE, tmp_path / "missing.json")
    assert [c.name for c in checks][:3] == ["accepted_range_stg_customer_products_monthly_revenue__0",
                                           "assert_ticket_analytics_has_every_ticket",
                                           "mart_ticket_analytics_derived_fields"]
    assert all(c.table is None for c in checks)


def test_other_exceptions_have_no_failed_checks() -> None:
    assert failed_checks(RuntimeError("- looks like a list line on a.b [x]")) == []
    assert failed_checks(None) == []


def _alert() -> messages.Alert:
    return messages.Alert(
        kind="failure", subject="[support-analytics] FAILED d.t for 2025-11-01 (try 3 of 3): 1 failed check(s)",
        headline="Task t of d failed for 2025-11-01 after try 3 of 3.",
        facts=(("DAG", "d"), ("Task", "t"), ("Log", "http://127.0.0.1:8080/dags/d/runs/r/tasks/t?try_number=3")),
        exception="ValidationFailed: <b>" + "x" * 5000,
        checks=(FailedCheck("expectation", "expect_x", "tbl", "col", "suite", "1 unexpected (e.g. '<&>')"),),
        link="http://127.0.0.1:8080/dags/d/runs/r/tasks/t?try_number=3")


def test_renderings_carry_every_fact_escape_markup_and_respect_slack_limits() -> None:
    alert = _alert()
    text = messages.as_text(alert)
    assert "Log: http://127.0.0.1:8080/dags/d/runs/r/tasks/t?try_number=3" in text
    assert "- expectation expect_x on tbl.col (suite): 1 unexpected (e.g. '<&>')" in text
    page = messages.as_html(alert)
    assert "&lt;b&gt;" in page and "<b>expect_x</b> on <code>tbl.col</code>" in page and "&lt;&amp;&gt;" in page
    payload = messages.as_slack(alert)
    assert set(payload) == {"text", "blocks"} and len(payload["text"]) <= 3900
    assert payload["blocks"][0] == {"type": "header", "text": {"type": "plain_text", "text": alert.subject}}
    for block in payload["blocks"]:
        if block["type"] == "section" and "text" in block:
            assert len(block["text"]["text"]) <= 3000
    sections = [b["text"]["text"] for b in payload["blocks"] if b["type"] == "section" and "text" in b]
    assert any("&lt;&amp;&gt;" in text for text in sections)
    assert payload["blocks"][-1]["elements"][0]["url"] == alert.link
    json.dumps(payload)


def test_recovery_and_late_messages() -> None:
    recovered = messages.recovery_alert("support_extract", "scheduled__2", "2025-11-02",
                                        {"run_id": "scheduled__1", "run_date": "2025-11-01", "state": "failed",
                                         "failed_tasks": "validate_batch"})
    assert recovered.subject == "[support-analytics] RECOVERED support_extract for 2025-11-02"
    assert "after the failed run scheduled__1" in recovered.headline
    rerun = messages.recovery_alert("support_extract", "r", "2025-11-01", {"run_id": "r", "failed_tasks": "x"})
    assert rerun.headline == "All clear: support_extract run r succeeded on re-run (it had failed in x)."
    late = messages.late_alert({"dag_id": "support_extract", "dag_run_id": "scheduled__2025-11-01T02:00:00+00:00",
                                "logical_date": "2025-11-01T02:00:00Z", "state": "running", "conf": {}},
                               {"deadline_time": "2025-11-02T05:00:00Z"}, 180)
    assert late.subject.endswith("not finished 180 minutes after it was queued")
    assert ("Worked on", "2025-11-01") in late.facts and late.link and "%3A" in late.link


def test_channels_are_off_until_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SA_ALERT_EMAILS", "SA_ALERT_WEBHOOK_URL", "SA_ALERT_WEBHOOK_CONN_ID", "SA_LATE_AFTER_MINUTES"):
        monkeypatch.delenv(name, raising=False)
    settings = get_settings()
    assert not settings.email_alerts_on and not settings.webhook_alerts_on and settings.late_after_minutes is None
    assert channels.deliver(_alert(), settings) == {}
    from include.notify.callbacks import dag_alerting

    assert dag_alerting()["deadline"] is None
    monkeypatch.setenv("SA_ALERT_EMAILS", " a@example.com; b@example.com ,")
    monkeypatch.setenv("SA_LATE_AFTER_MINUTES", "90")
    settings = get_settings()
    assert settings.alert_emails == ("a@example.com", "b@example.com") and settings.late_after_minutes == 90
    deadline = dag_alerting()["deadline"]
    assert deadline.interval.total_seconds() == 90 * 60
    assert deadline.callback.path == "include.notify.callbacks.late_run_alert"


def test_webhook_url_from_an_airflow_connection_and_an_unreachable_channel_does_not_raise(
        monkeypatch: pytest.MonkeyPatch) -> None:
    received: list[dict[str, Any]] = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/services/T/B/x"
        monkeypatch.delenv("SA_ALERT_WEBHOOK_URL", raising=False)
        monkeypatch.setenv("SA_ALERT_WEBHOOK_CONN_ID", "chat_alerts")
        monkeypatch.setenv("AIRFLOW_CONN_CHAT_ALERTS", json.dumps({"conn_type": "slackwebhook", "password": url}))
        monkeypatch.setenv("SA_ALERT_EMAILS", "oncall@example.com")
        monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", json.dumps(
            {"conn_type": "smtp", "host": "127.0.0.1", "port": 9, "extra": {
                "disable_tls": True, "disable_ssl": True, "from_email": "a@b.c", "retry_limit": 0, "timeout": 2}}))
        outcome = channels.deliver(_alert())
    finally:
        server.shutdown()
    assert outcome["webhook"] == "sent" and outcome["email"].startswith("failed: ")
    assert received and received[0]["text"].startswith("Task t of d failed")


def test_the_parser_follows_the_gates_own_line_format() -> None:
    """Lines made by `ExpectationOutcome.describe` (what ValidationFailed lists) parse back to table and column."""
    from include.quality.validate import ExpectationOutcome

    outcomes = [
        ExpectationOutcome("support_tickets.table", "unexpected_rows_expectation", "customer_id", False, 1,
                           ["C99999999"], None, None),
        ExpectationOutcome("customers.batch", "expect_column_pair_values_a_to_be_greater_than_b",
                           "updated_at,created_at", False, 2, [], None, None),
        ExpectationOutcome("products.batch", "expect_table_row_count_to_equal", None, False, None, [], 3, None),
        ExpectationOutcome("products.batch", "expect_column_values_to_not_be_null", "product_id", False, None, [],
                           None, "boom"),
    ]
    tables = ["support_tickets", "customers", "products", "products"]
    message = "validation of batch 2025-11-01 failed: 4 of 9 expectations (tables: …):\n- " + "\n- ".join(
        o.describe(t) for o, t in zip(outcomes, tables, strict=True))
    checks = from_validation_message(message)
    assert [(c.name, c.table, c.column, c.check_type) for c in checks] == [
        (o.expectation, t, o.column, o.suite) for o, t in zip(outcomes, tables, strict=True)]
    assert checks[3].detail == "error boom"
