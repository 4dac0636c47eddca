"""The nightly chain run for real with `dag.test()` on real PostgreSQL and real dbt: extract → transform → export,
and the two gates: a failed validation emits no Asset for the transform, a failed dbt test none for the export."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pendulum
import pytest

from include.config import get_settings
from include.pipeline import VALIDATED_BATCH_ASSET, mart_uri, serving_uri
from include.warehouse.connect import connect
from tests.airflow_helpers import delete_orphan_ticket, insert_orphan_ticket, load_dag, task_states

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

DAY = pendulum.datetime(2025, 11, 1, 2, tz="UTC")

SPEC_QUERIES = {
    "top_root_causes": """
        SELECT root_cause_name, category_name, total_tickets, pct_of_period, pct_open
        FROM serving.mart_top_root_causes
        WHERE created_year = 2025 AND created_month = 10
        ORDER BY total_tickets DESC
        LIMIT 5""",
    "v12_by_product": """
        SELECT * FROM serving.mart_ticket_analytics
        WHERE is_v12_related = true
        AND product_type = 'Digital Lending'""",
    "premium_churned": """
        SELECT * FROM serving.mart_churned_customers
        WHERE customer_segment = 'Premium'
        AND is_churned_30d = true
        ORDER BY estimated_clv DESC""",
    "v12_impact": """
        SELECT product_type, COUNT(*) as v12_tickets, AVG(resolution_time_hours) as avg_resolution
        FROM serving.mart_ticket_analytics
        WHERE is_v12_related = true
        GROUP BY product_type""",
    "clv_at_risk": """
        SELECT customer_segment, COUNT(*) as at_risk_customers, SUM(estimated_clv) as clv_at_risk
        FROM serving.mart_churned_customers
        WHERE churn_risk_level IN ('high', 'critical')
        GROUP BY customer_segment""",
}


def _asset_events(settings, name_or_uri: str) -> int:  # type: ignore[no-untyped-def]
    import psycopg

    with psycopg.connect(settings.admin_url(settings.airflow_db)) as conn:
        return conn.execute(
            "select count(*) from asset_event e join asset a on a.id = e.asset_id where a.uri = %s or a.name = %s",
            (name_or_uri, name_or_uri)).fetchone()[0]


@pytest.fixture(scope="module")
def chain(airflow_db, landing):  # type: ignore[no-untyped-def]
    """History, then one day through the three DAGs, as dag.test() runs."""
    from tests.conftest import truncate_warehouse

    settings = get_settings()
    truncate_warehouse(settings)
    extract = load_dag("support_extract")
    assert extract.test(run_conf={"batch": "history"}).state == "success"
    day = extract.test(logical_date=DAY)
    assert day.state == "success", task_states(day)
    transform = load_dag("support_transform").test(run_conf={"as_of_date": "2025-11-01"})
    export = load_dag("support_churn_export").test()
    return settings, day, transform, export


def test_transform_builds_every_model_with_its_tests(chain) -> None:  # type: ignore[no-untyped-def]
    settings, _, transform, _ = chain
    states = task_states(transform)
    assert transform.state == "success", states
    # WATCHER: one dbt build (the producer), then one task per model reporting it was built and its tests passed
    assert states["dbt_producer_watcher"] == "success"
    assert {"stg_tickets", "mart_ticket_analytics", "mart_top_root_causes", "mart_churned_customers"} <= set(states)
    with connect("reader", settings) as conn:
        tickets = conn.execute("select count(*) from serving.mart_ticket_analytics").fetchone()[0]
        as_of = conn.execute("select distinct as_of_date from serving.mart_churned_customers").fetchall()
        built = conn.execute("select as_of_date from serving.marts_build").fetchall()
    with connect("admin", settings) as conn:
        landed = conn.execute("select count(*) from analytics.support_tickets").fetchone()[0]
    assert tickets == landed > 10_000
    assert [str(r[0]) for r in as_of] == [str(r[0]) for r in built] == ["2025-11-01"]
    assert _asset_events(settings, mart_uri("mart_churned_customers")) >= 1
    assert _asset_events(settings, serving_uri("churn_list_snapshots")) >= 1  # what schedules the export


def test_the_spec_sample_queries_answer_on_serving(chain) -> None:  # type: ignore[no-untyped-def]
    settings = chain[0]
    with connect("reader", settings) as conn:
        answers = {name: conn.execute(query).fetchall() for name, query in SPEC_QUERIES.items()}
    assert len(answers["top_root_causes"]) == 5
    assert answers["top_root_causes"][0][2] >= answers["top_root_causes"][-1][2]
    assert answers["v12_by_product"] and answers["premium_churned"]
    assert {r[0] for r in answers["v12_impact"]} >= {"Digital Lending"}
    assert answers["clv_at_risk"] and all(r[1] > 0 for r in answers["clv_at_risk"])


def test_export_writes_both_lists_with_a_manifest_that_matches(chain) -> None:  # type: ignore[no-untyped-def]
    settings, _, _, export = chain
    assert export.state == "success", task_states(export)
    folder = Path(settings.export_root) / "2025-11-01"
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["as_of_date"] == "2025-11-01" and manifest["source"] == "serving.churn_list_snapshots"
    with connect("reader", settings) as conn:
        churned = conn.execute("select count(*) from serving.mart_churned_customers where is_churned_90d"
                               ).fetchone()[0]
        high = conn.execute("select count(*) from serving.mart_churned_customers"
                            " where churn_risk_level in ('high', 'critical')").fetchone()[0]
    expected = {"churned_customers": churned, "high_risk_customers": high}
    for filename, entry in manifest["files"].items():
        payload = (folder / filename).read_bytes()
        assert hashlib.sha256(payload).hexdigest() == entry["sha256"]
        assert entry["rows"] == expected[filename.split(".")[0]]
        if filename.endswith(".csv"):
            assert payload.decode().count("\n") == entry["rows"] + 1
    assert churned > 1000 and high > 0
    assert manifest["pii_included"] is False and "@masked.invalid" in (folder / "churned_customers.csv").read_text()


def test_failed_dbt_test_blocks_the_export(chain) -> None:  # type: ignore[no-untyped-def]
    settings = chain[0]
    before = _asset_events(settings, mart_uri("mart_churned_customers"))
    with connect("admin", settings) as conn:  # a value only a dbt test catches once it is past the gate
        conn.execute("update analytics.customer_products set monthly_revenue = -5 where holding_id ="
                     " (select min(holding_id) from analytics.customer_products)")
    try:  # written behind the extract (no new load): only the full check, asked for in the conf, tests every row
        run = load_dag("support_transform").test(run_conf={"as_of_date": "2025-11-01", "full_tests": True})
        states = task_states(run)
        assert run.state == "failed"
        # dbt's test on stg_customer_products fails the build; its model's task fails, the marts on it never run
        assert states["dbt_producer_watcher"] == "failed" and states["stg_customer_products"] == "failed", states
        assert states["mart_churned_customers"] == "upstream_failed", states
        assert states["mart_ticket_analytics"] == "success", states  # not built on stg_customer_products
        assert _asset_events(settings, mart_uri("mart_churned_customers")) == before
    finally:
        with connect("admin", settings) as conn:
            conn.execute("update analytics.customer_products set monthly_revenue = 5 where monthly_revenue < 0")


def test_failed_validation_blocks_the_transform(chain, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    settings = chain[0]
    before = _asset_events(settings, VALIDATED_BATCH_ASSET)
    monkeypatch.setenv("SA_FULL_CHECK_WEEKDAY", "6")  # DAY (a Saturday) is the weekly full-check day
    insert_orphan_ticket(settings)  # only the gate's whole-table check catches it
    try:
        run = load_dag("support_extract").test(logical_date=DAY)
        states = task_states(run)
        assert run.state == "failed" and states["validate_batch"] == "failed", states
        assert _asset_events(settings, VALIDATED_BATCH_ASSET) == before
    finally:
        delete_orphan_ticket(settings)
