"""The transform DAG's WATCHER graph: what `include.transform.cosmos_adapter` promises, on the real parsed DAG."""

from __future__ import annotations

from pathlib import Path

import pytest

from include.pipeline import DBT_PRODUCER_TASK as PRODUCER_TASK_ID
from include.pipeline import mart_uri, serving_uri

DAGS_FOLDER = Path(__file__).resolve().parents[2] / "dags"
MODELS = {"stg_customers", "stg_customer_logins", "stg_customer_products", "stg_products", "stg_tickets",
          "stg_ticket_categories", "stg_root_causes", "stg_committed_loads", "mart_ticket_analytics",
          "mart_top_root_causes", "mart_churned_customers", "churn_list_snapshots", "mart_root_causes_by_period",
          "mart_tickets_by_day", "mart_churn_summary"}
# The views over the marts (dbt/models/serving, pii), named by their relation (the mart's name) in their Asset.
VIEWS = {"serving_mart_ticket_analytics": "mart_ticket_analytics",
         "serving_mart_top_root_causes": "mart_top_root_causes",
         "serving_mart_churned_customers": "mart_churned_customers",
         "serving_churn_list_snapshots": "churn_list_snapshots",
         "serving_marts_build": "marts_build",
         "serving_mart_root_causes_by_period": "mart_root_causes_by_period",
         "serving_mart_tickets_by_day": "mart_tickets_by_day",
         "serving_mart_churn_summary": "mart_churn_summary",
         "pii_churn_list_snapshots": "churn_list_snapshots"}


@pytest.fixture(scope="module")
def transform():  # type: ignore[no-untyped-def]
    from airflow.dag_processing.dagbag import BundleDagBag

    return BundleDagBag(str(DAGS_FOLDER), bundle_path=str(DAGS_FOLDER)).dags["support_transform"]


def test_one_build_beside_one_task_per_model(transform) -> None:  # type: ignore[no-untyped-def]
    assert {t.task_id for t in transform.tasks} == MODELS | set(VIEWS) | {PRODUCER_TASK_ID, "summarize_run"}
    producer = transform.get_task(PRODUCER_TASK_ID)
    assert producer.base_cmd == ["build"] and producer.retries == 0
    roots = {t.task_id for t in transform.tasks if not t.upstream_task_ids}
    assert roots == {m for m in MODELS if m.startswith("stg_")} | {PRODUCER_TASK_ID}  # the models start with dbt
    for task_id in MODELS | set(VIEWS):  # each pokes in its own process, every second: no triggerer round trip
        task = transform.get_task(task_id)
        assert (task.mode, task.deferrable, task.poke_interval) == ("poke", False, 1)
    marts = transform.get_task("mart_churned_customers")
    assert marts.upstream_task_ids == {"stg_customers", "stg_customer_logins", "stg_customer_products", "stg_tickets"}
    assert transform.get_task("churn_list_snapshots").upstream_task_ids == {"mart_churned_customers"}
    assert transform.get_task("serving_churn_list_snapshots").upstream_task_ids == {
        "churn_list_snapshots", "mart_churned_customers", "pii_churn_list_snapshots"}  # the export's trigger: last
    assert all(transform.get_task(m).retries == 0 for m in MODELS | set(VIEWS))


def test_each_model_publishes_its_asset_from_the_task_that_saw_its_tests(transform) -> None:  # type: ignore[no-untyped-def]
    for model in MODELS:
        task = transform.get_task(model)
        assert task.is_test_sensor, f"{model}: its task must wait for the model's tests"
        assert [a.uri for a in task.outlets] == [mart_uri(model) if not model.startswith("stg_")
                                                  else mart_uri(model).replace("/marts/", "/staging/")]
    for view, relation in VIEWS.items():
        uri = serving_uri(relation) if view.startswith("serving_") else serving_uri(relation).replace("/serving/",
                                                                                                       "/pii/")
        assert [a.uri for a in transform.get_task(view).outlets] == [uri], view
    assert transform.get_task(PRODUCER_TASK_ID).outlets == []


def test_a_test_over_a_mart_and_a_staging_model_counts_against_the_mart_only(transform) -> None:  # type: ignore[no-untyped-def]
    tests = transform.get_task(PRODUCER_TASK_ID).tests_per_model
    singular = "test.support_analytics.assert_ticket_analytics_has_every_ticket"
    assert singular in tests["model.support_analytics.mart_ticket_analytics"]
    assert singular not in tests["model.support_analytics.stg_tickets"]
    relationship = [t for t in tests["model.support_analytics.stg_tickets"] if ".relationships_" in t
                    and "ref_stg_customers" in t]
    assert relationship and relationship[0] in tests["model.support_analytics.stg_customers"]
