"""The real scheduler (LocalExecutor): one extract run, and the Asset chain triggers transform and export by itself."""

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
