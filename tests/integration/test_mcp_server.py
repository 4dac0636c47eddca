"""The MCP server through a real MCP client session (in memory) on marts built from simulator data (tests/served.py):
each tool's figures equal the same figures computed by independent SQL on the marts, bad arguments and injection
strings are refused before any query uses them, and the server's role can neither write nor read raw PII."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any

import anyio
import psycopg
import pytest
from mcp import Client

from include.config import Settings, masking_key
from include.mcp_server.server import build_server
from include.warehouse.connect import connect
from tests.served import AS_OF, DAYS, FAILED_DAY

pytestmark = pytest.mark.integration
TOOLS = {"kpi.top_root_causes", "kpi.v12_impact", "churn.at_risk_customers", "churn.summary", "pipeline.status"}


def session(settings: Settings, body: Callable[[Client], Awaitable[Any]]) -> Any:
    """Run `body` in one MCP client session with a fresh server over `settings`."""
    async def main() -> Any:
        async with Client(build_server(settings)) as client:
            return await body(client)

    return anyio.run(main)


def call(settings: Settings, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    async def body(client: Client) -> dict[str, Any]:
        result = await client.call_tool(name, arguments)
        assert not result.is_error, result.content[0].text  # type: ignore[union-attr]
        return result.structured_content  # type: ignore[return-value]

    return session(settings, body)


def sql(settings: Settings, query: str, params: tuple = (), kind: str = "transformer") -> list[tuple]:
    """Independent figures: written here, on the marts themselves (the transformer owns them)."""
    with connect(kind, settings) as conn:  # type: ignore[arg-type]
        return conn.execute(query, params).fetchall()


def f(value: Any) -> float | None:
    return None if value is None else float(value)


def test_every_tool_has_a_schema_a_description_and_says_it_only_reads(served: Settings) -> None:
    async def body(client: Client) -> Any:
        return (await client.list_tools()).tools

    tools = {t.name: t for t in session(served, body)}
    assert set(tools) == TOOLS
    for tool in tools.values():
        assert tool.input_schema["additionalProperties"] is False and tool.output_schema
        assert len(tool.description or "") > 150 and "Example:" in (tool.description or "")
        assert tool.annotations and tool.annotations.read_only_hint and not tool.annotations.destructive_hint
    assert tools["churn.at_risk_customers"].input_schema["properties"]["segment"]["anyOf"][0]["enum"] == [
        "Standard", "Premium", "Business", "Student"]


def test_every_answer_states_the_marts_as_of_date_and_build_time(served: Settings) -> None:
    (built_at,) = sql(served, "select built_at from serving.marts_build")[0]
    for name, arguments in (("kpi.top_root_causes", {"year": 2025}), ("kpi.v12_impact", {}),
                            ("churn.at_risk_customers", {}), ("churn.summary", {}), ("pipeline.status", {})):
        marts = call(served, name, arguments)["marts"]
        assert marts["as_of_date"] == AS_OF and marts["built_at"].startswith(built_at.isoformat()[:19]), name


def test_top_root_causes_of_a_month_are_the_marts_rows(served: Settings) -> None:
    answer = call(served, "kpi.top_root_causes", {"year": 2025, "month": 10, "limit": 7})
    expected = sql(served, "select root_cause_name, category_name, product_category, total_tickets, pct_of_period,"
                   " pct_open, avg_resolution_hours, median_resolution_hours, satisfaction_rate, pct_v12_app,"
                   " pct_v12_related from marts.mart_top_root_causes where created_year = 2025 and created_month = 10"
                   " order by total_tickets desc, root_cause_name, category_id, product_category limit 7")
    got = [(r["root_cause_name"], r["category_name"], r["product_category"], r["total_tickets"], r["pct_of_period"],
            r["pct_open"], r["avg_resolution_hours"], r["median_resolution_hours"], r["satisfaction_rate"],
            r["pct_v12_app"], r["pct_v12_related"]) for r in answer["root_causes"]]
    assert got == [(*r[:4], *(f(v) for v in r[4:])) for r in expected]
    assert answer["period"] == "2025-10" and answer["period_tickets"] == sql(
        served, "select count(*) from marts.mart_ticket_analytics where created_year = 2025 and created_month = 10"
    )[0][0]
    assert "Loan application crashes on submit" in {r["root_cause_name"] for r in answer["root_causes"]}


def test_top_root_causes_of_a_quarter_with_filters_are_computed_from_the_tickets(served: Settings) -> None:
    answer = call(served, "kpi.top_root_causes", {"year": 2025, "quarter": 3, "category": "Payments", "limit": 3})
    period = sql(served, "select count(*) from marts.mart_ticket_analytics where created_year = 2025"
                 " and created_month between 7 and 9")[0][0]
    expected = sql(served, """
        select coalesce(root_cause_name, 'Undiagnosed'), product_category, count(*),
            round(count(*) * 100.0 / %s, 2),
            round(100.0 * sum(case when status in ('open', 'in_progress') then 1 else 0 end) / count(*), 2),
            round(avg(case when resolved_at is not null then coalesce(resolution_time_hours,
                                                                      actual_resolution_hours) end), 2),
            round((percentile_cont(0.5) within group (order by coalesce(resolution_time_hours, actual_resolution_hours))
                  filter (where resolved_at is not null))::numeric, 2),
            round(100.0 * sum(case when satisfaction_score >= 4 then 1 else 0 end)
                  / nullif(count(satisfaction_score), 0), 2),
            round(100.0 * sum(case when app_version = 'v1.2' then 1 else 0 end) / count(*), 2)
        from marts.mart_ticket_analytics
        where created_date between '2025-07-01' and '2025-09-30' and category_name = 'Payments'
        group by root_cause_id, root_cause_name, root_cause_severity, category_id, product_category
        order by 3 desc, 1, 2 limit 3""", (period,))
    got = [(r["root_cause_name"], r["product_category"], r["total_tickets"], r["pct_of_period"], r["pct_open"],
            r["avg_resolution_hours"], r["median_resolution_hours"], r["satisfaction_rate"], r["pct_v12_app"])
           for r in answer["root_causes"]]
    assert answer["period"] == "2025-Q3" and answer["period_tickets"] == period
    assert got == [(*r[:3], *(f(v) for v in r[3:])) for r in expected]
    assert all(r["category_name"] == "Payments" for r in answer["root_causes"])


def test_v12_impact_is_the_spec_query_and_the_weekly_counts(served: Settings) -> None:
    answer = call(served, "kpi.v12_impact", {"weeks": 4})
    spec = sql(served, "SELECT product_type, COUNT(*) as v12_tickets, AVG(resolution_time_hours) as avg_resolution"
               " FROM marts.mart_ticket_analytics WHERE is_v12_related = true GROUP BY product_type")
    assert sorted((r["product_type"], r["v12_tickets"], r["avg_resolution_hours"]) for r in answer["by_product_type"]
                  ) == sorted((p, n, round(float(a), 2)) for p, n, a in spec)
    release = sql(served, "select min(created_at at time zone 'UTC')::date from marts.mart_ticket_analytics"
                  " where app_version = 'v1.2'")[0][0]
    assert answer["release_date"] == release.isoformat() == "2025-09-15"
    weekly = dict(sql(served, "select date_trunc('week', created_at at time zone 'UTC')::date, count(*)"
                      " from marts.mart_ticket_analytics group by 1"))
    weeks = answer["weeks"]
    assert [w["weeks_from_release"] for w in weeks] == [-4, -3, -2, -1, 0, 1, 2, 3]
    assert all(w["tickets"] == weekly[date.fromisoformat(w["week_start"])] for w in weeks)
    assert answer["tickets_per_week_before"] == sum(w["tickets"] for w in weeks[:4]) / 4
    assert answer["tickets_per_week_after"] > answer["tickets_per_week_before"]  # the v1.2 spike


def test_at_risk_customers_are_ordered_by_clv_and_carry_masked_contacts_only(served: Settings) -> None:
    answer = call(served, "churn.at_risk_customers", {"segment": "Premium", "churn_window": 30, "limit": 15})
    where = ("customer_segment = 'Premium' and is_churned_30d and churn_risk_level in ('high', 'critical')")
    expected = sql(served, f"select customer_id, estimated_clv, churn_risk_score, customer_name, email, phone"
                   f" from marts.mart_churned_customers where {where} order by estimated_clv desc, customer_id"
                   f" limit 15")
    count, clv = sql(served, f"select count(*), sum(estimated_clv) from marts.mart_churned_customers where {where}")[0]
    assert answer["matching_customers"] == count > 15 and answer["clv_at_risk"] == float(clv)
    key = masking_key(served)
    mac = lambda v: hmac.new(key, v.encode(), hashlib.sha256).hexdigest()  # noqa: E731
    got = [(c["customer_id"], c["estimated_clv"], c["churn_risk_score"], c["customer_name"], c["email"], c["phone"])
           for c in answer["customers"]]
    assert got == [(i, float(v), s, f"masked-{mac(n)}", f"{mac(e)}@masked.invalid", f"masked-{mac(p)}")
                   for i, v, s, n, e, p in expected]
    text = str(answer)
    assert not any(raw in text for row in expected for raw in row[3:])


def test_churn_summary_is_the_spec_query_3_and_the_counts_by_segment_and_level(served: Settings) -> None:
    answer = call(served, "churn.summary", {})
    spec = sql(served, "SELECT customer_segment, COUNT(*) as at_risk_customers, SUM(estimated_clv) as clv_at_risk"
               " FROM marts.mart_churned_customers WHERE churn_risk_level IN ('high', 'critical')"
               " GROUP BY customer_segment")
    assert sorted((r["customer_segment"], r["at_risk_customers"], r["clv_at_risk"])
                  for r in answer["at_risk_by_segment"]) == sorted((s, n, float(c)) for s, n, c in spec)
    cells = sql(served, "select customer_segment, churn_risk_level, count(*), sum(estimated_clv)"
                " from marts.mart_churned_customers group by 1, 2")
    assert sorted((c["customer_segment"], c["churn_risk_level"], c["customers"], c["estimated_clv"])
                  for c in answer["by_segment_and_level"]) == sorted((s, lv, n, float(v)) for s, lv, n, v in cells)
    narrowed = call(served, "churn.summary", {"segment": "Student", "risk_levels": ["critical"], "churn_window": 90})
    assert [(c["customer_segment"], c["churn_risk_level"], c["customers"]) for c in narrowed["by_segment_and_level"]
            ] == [tuple(r) for r in sql(served, "select customer_segment, churn_risk_level, count(*) from"
                  " marts.mart_churned_customers where customer_segment = 'Student' and churn_risk_level = 'critical'"
                  " and is_churned_90d group by 1, 2")]


def test_pipeline_status_per_date_without_a_raw_value(served: Settings) -> None:
    answer = call(served, "pipeline.status", {"days": 10})
    nights = {n["run_date"]: n for n in answer["nights"]}
    assert list(nights) == sorted(DAYS, reverse=True)
    failed = nights[FAILED_DAY]
    assert (failed["extract_state"], failed["transform_state"], failed["export_state"]) == (
        "failed", "success", "success")
    assert failed["failed_tasks"] == "support_extract: validate_batch"
    assert failed["failed_checks"] == "expect_column_values_to_match_regex on customers.email"
    landed = sql(served, "select run_date, sum(rows_landed) from (select distinct on (run_date, dag_id) * from"
                 " audit.run_summary order by run_date, dag_id, finished_at desc) latest group by 1", kind="admin")
    assert {d: n["rows_landed"] for d, n in nights.items()} == dict(landed)
    one = call(served, "pipeline.status", {"run_date": DAYS[0]})
    assert [n["run_date"] for n in one["nights"]] == [DAYS[0]] and one["nights"][0]["failed_checks"] is None


BAD_ARGUMENTS = [
    ("kpi.top_root_causes", {}, "year"),
    ("kpi.top_root_causes", {"year": "twenty"}, "valid integer"),
    ("kpi.top_root_causes", {"year": 2025.5}, "year"),
    ("kpi.top_root_causes", {"year": True}, "year"),
    ("kpi.top_root_causes", {"year": 1999}, "greater than or equal to 2000"),
    ("kpi.top_root_causes", {"year": 2025, "month": 13}, "less than or equal to 12"),
    ("kpi.top_root_causes", {"year": 2025, "month": 1, "quarter": 1}, "a month or a quarter, not both"),
    ("kpi.top_root_causes", {"year": 2025, "limit": 0}, "greater than or equal to 1"),
    ("kpi.top_root_causes", {"year": 2025, "limit": 10_000}, "less than or equal to 50"),
    ("kpi.top_root_causes", {"year": 2025, "limt": 3}, "Extra inputs are not permitted"),
    ("kpi.top_root_causes", {"year": 2025, "category": "Payments'; drop table marts.x; --"}, "unknown category"),
    ("kpi.top_root_causes", {"year": 2025, "product_category": "x' or '1'='1"}, "unknown product category"),
    ("kpi.v12_impact", {"weeks": 27}, "less than or equal to 26"),
    ("kpi.v12_impact", {"product_type": "Payments) union select email from marts.x --"}, "unknown product type"),
    ("kpi.v12_impact", {"release_date": "2025-02-30"}, "not a calendar date"),
    ("kpi.v12_impact", {"release_date": "2025-09-15'; select 1; --"}, "should match pattern"),
    ("churn.at_risk_customers", {"segment": "Gold"}, "'Standard', 'Premium', 'Business' or 'Student'"),
    ("churn.at_risk_customers", {"segment": "Premium' OR 1=1 --"}, "'Standard', 'Premium', 'Business' or 'Student'"),
    ("churn.at_risk_customers", {"risk_levels": []}, "at least 1 item"),
    ("churn.at_risk_customers", {"risk_levels": ["severe"]}, "'active', 'low', 'medium', 'high' or 'critical'"),
    ("churn.at_risk_customers", {"churn_window": 60}, "30 or 90"),
    ("churn.at_risk_customers", {"limit": 101}, "less than or equal to 100"),
    ("churn.summary", {"risk_levels": "high"}, "tuple"),
    ("pipeline.status", {"run_date": "yesterday"}, "should match pattern"),
    ("pipeline.status", {"run_date": "2025-13-01"}, "not a calendar date"),
    ("pipeline.status", {"days": -1}, "greater than or equal to 1"),
]


def test_bad_arguments_and_injection_strings_are_refused_before_any_query_sees_them(served: Settings) -> None:
    from include.config import get_settings

    log = get_settings().embedded_pgdata / "server.log"
    with connect("admin", served) as conn:  # every statement of the server's role, with its parameters
        conn.execute(f"alter role {served.roles.reader} in database {served.warehouse_db} set log_statement = 'all'")
    try:
        logged_from = log.stat().st_size

        async def body(client: Client) -> list[tuple[bool, str]]:
            answers = []
            for name, arguments, _ in BAD_ARGUMENTS:
                result = await client.call_tool(name, arguments)
                answers.append((result.is_error, result.content[0].text))  # type: ignore[union-attr]
            ok = await client.call_tool("kpi.top_root_causes", {"year": 2025, "category": "Login & Access"})
            answers.append((ok.is_error, ""))
            return answers

        answers = session(served, body)
    finally:
        with connect("admin", served) as conn:
            conn.execute(f"alter role {served.roles.reader} in database {served.warehouse_db} reset log_statement")
    for (name, arguments, words), (is_error, text) in zip(BAD_ARGUMENTS, answers, strict=False):
        assert is_error and words in text, (name, arguments, text)
    assert answers[-1] == (False, "")
    statements = log.read_bytes()[logged_from:].decode(errors="replace")
    assert "Login & Access" in statements  # the log does show what reaches the server …
    for _, arguments, _ in BAD_ARGUMENTS:  # … and no refused argument is in it
        for value in arguments.values():
            if isinstance(value, str) and len(value) > 4:
                assert value not in statements, value


def test_the_servers_role_cannot_write_nor_read_raw_pii(served: Settings) -> None:
    """The tools run only fixed SELECTs, but the role itself is the guarantee: try the worst as it."""
    for statement in ("delete from serving.mart_churned_customers", "create table serving.x (x int)",
                      "insert into serving.pipeline_status (run_date) values ('x')",
                      "select email from marts.mart_churned_customers", "select email from pii.churn_list_snapshots",
                      "select customer_name from staging.stg_customers", "select email from analytics.customers",
                      "select raw_line from audit.quarantine", "select inner_pad from private.masking_key"):
        with pytest.raises((psycopg.errors.InsufficientPrivilege, psycopg.errors.ObjectNotInPrerequisiteState)):
            sql(served, statement, kind="reader")
    emails = {r[0] for r in sql(served, "select email from serving.mart_churned_customers", kind="reader")}
    assert all(e.endswith("@masked.invalid") for e in emails)
