"""The real scheduler (LocalExecutor): one extract run, and the Asset chain triggers transform and export by itself;
then the run-book's recovery from a failed dbt test (fix the data, clear the failed tasks)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from include.config import get_settings
from include.warehouse.connect import connect

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_asset_chain_runs_transform_and_export_after_the_extract(running_airflow) -> None:  # type: ignore[no-untyped-def]
    api = running_airflow
    api.trigger("support_extract", logical_date="2025-11-01T02:00:00Z")
    [extract] = api.wait_for_runs("support_extract", 1, timeout_s=300)
    failed = [t["task_id"] for t in api.task_instances("support_extract", extract["dag_run_id"])
              if t["state"] != "success"]
    assert extract["state"] == "success", failed

    [transform] = api.wait_for_runs("support_transform", 1, timeout_s=600)
    assert transform["run_type"] == "asset_triggered"
    failed = [t["task_id"] for t in api.task_instances("support_transform", transform["dag_run_id"])
              if t["state"] != "success"]
    assert transform["state"] == "success", failed

    [export] = api.wait_for_runs("support_churn_export", 1, timeout_s=300)
    assert export["run_type"] == "asset_triggered" and export["state"] == "success"

    settings = get_settings()
    with connect("reader", settings) as conn:
        as_of = conn.execute("select distinct as_of_date::text from marts.mart_churned_customers").fetchall()
    assert as_of == [("2025-11-01",)], "the transform evaluates churn as of the extract's logical date"
    manifest = json.loads((Path(settings.export_root) / "2025-11-01" / "manifest.json").read_text())
    assert manifest["files"]["churned_customers.csv"]["rows"] > 1000


def test_failed_dbt_test_then_fix_and_clear_rebuilds_and_publishes(running_airflow) -> None:  # type: ignore[no-untyped-def]
    """State: the chain above ran for 2025-11-01 (one transform and one export run)."""
    api = running_airflow
    settings = get_settings()
    with connect("admin", settings) as conn:  # a value only a dbt test catches once it is past the gate
        conn.execute("update analytics.customer_products set monthly_revenue = -5 where holding_id ="
                     " (select min(holding_id) from analytics.customer_products)")
    try:
        run_id = api.trigger("support_transform", conf={"as_of_date": "2025-11-01"})
        run = api.wait_for_run("support_transform", run_id, timeout_s=600)
        states = {t["task_id"]: t["state"] for t in api.task_instances("support_transform", run_id)}
        assert run["state"] == "failed", states
        assert states["dbt_producer_watcher"] == "failed" and states["stg_customer_products"] == "failed"
        assert states["mart_churned_customers"] == "upstream_failed", states
    finally:
        with connect("admin", settings) as conn:
            conn.execute("update analytics.customer_products set monthly_revenue = 5 where monthly_revenue < 0")
    assert len(api.runs("support_churn_export")) == 1, "no export on a mart whose tests did not run"

    assert api.clear_failed("support_transform", run_id) >= 3  # producer, stg_customer_products, the churn mart
    run = api.wait_for_run("support_transform", run_id, timeout_s=600)
    tis = {t["task_id"]: t for t in api.task_instances("support_transform", run_id)}
    assert run["state"] == "success", {k: t["state"] for k, t in tis.items()}
    assert tis["dbt_producer_watcher"]["state"] == "skipped"  # Cosmos never re-runs the whole build on a clear
    assert tis["stg_customer_products"]["try_number"] == 2  # it ran `dbt build` for its model itself
    assert tis["mart_churned_customers"]["state"] == "success"
    exports = api.wait_for_runs("support_churn_export", 2, timeout_s=300)  # the rebuilt mart's Asset
    assert [r["state"] for r in exports] == ["success", "success"]
