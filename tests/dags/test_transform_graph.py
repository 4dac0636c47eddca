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
          "mart_tickets_by_day", "mart_churn_summary", "int_ticket_groups_by_month"}
# Models without a task of their own (include/transform/folded_models.py): model → (the task that reports it, its
# Asset's URI). The views over the marts (dbt/models/serving, pii) are reported by their mart's task and published
# under their relation (the mart's name); the untested intermediate models (no data tests of their own: unique
# indexes on their keys, their incremental builds checked against a full refresh in
# tests/integration/test_incremental_marts.py) by the mart they feed.
FOLDED = {"serving_mart_ticket_analytics": ("mart_ticket_analytics", serving_uri("mart_ticket_analytics")),
          "serving_mart_top_root_causes": ("mart_top_root_causes", serving_uri("mart_top_root_causes")),
          "serving_mart_churned_customers": ("mart_churned_customers", serving_uri("mart_churned_customers")),
          "serving_churn_list_snapshots": ("churn_list_snapshots", serving_uri("churn_list_snapshots")),
          "serving_mart_root_causes_by_period": ("mart_root_causes_by_period",
                                                 serving_uri("mart_root_causes_by_period")),
          "serving_mart_tickets_by_day": ("mart_tickets_by_day", serving_uri("mart_tickets_by_day")),
          "serving_mart_churn_summary": ("mart_churn_summary", serving_uri("mart_churn_summary")),
          "pii_churn_list_snapshots": ("churn_list_snapshots",
                                       serving_uri("churn_list_snapshots").replace("/serving/", "/pii/")),
          "int_customer_login_totals": ("mart_churned_customers", mart_uri("int_customer_login_totals")),
          "int_customer_churn_activity": ("mart_churned_customers", mart_uri("int_customer_churn_activity")),
          "int_customer_contact_tokens": ("churn_list_snapshots", mart_uri("int_customer_contact_tokens"))}
SERVED_OWNERS = {owner for model, (owner, _) in FOLDED.items() if not model.startswith("int_")}
BUILD_STAMP = "serving_marts_build"  # a table over every served view: a task of its own, built last


@pytest.fixture(scope="module")
def transform():  # type: ignore[no-untyped-def]
    from airflow.dag_processing.dagbag import BundleDagBag

    return BundleDagBag(str(DAGS_FOLDER), bundle_path=str(DAGS_FOLDER)).dags["support_transform"]


def test_one_build_beside_one_task_per_model(transform) -> None:  # type: ignore[no-untyped-def]
    assert {t.task_id for t in transform.tasks} == MODELS | {BUILD_STAMP, PRODUCER_TASK_ID}  # no summary task
    producer = transform.get_task(PRODUCER_TASK_ID)
    assert producer.base_cmd == ["build"] and producer.retries == 0
    # no dbt unit tests at night (fixed inputs: make test runs them): `dbt build` (the producer, a model task's own
    # rebuild) excludes them; `dbt run` (a model task without tests) has no such option
    for task in transform.tasks:
        expected = ["--exclude-resource-type", "unit_test"] if task.base_cmd == ["build"] else []
        assert task.dbt_cmd_flags == expected, (task.task_id, task.base_cmd, task.dbt_cmd_flags)
    assert {t.base_cmd[0] for t in transform.tasks} == {"build", "run"}
    # dbt in the task's own process, holding the transform-inputs lock: the producer and every model task's rebuild
    from cosmos.constants import InvocationMode

    from include.transform.cosmos_adapter import LockedDbtProducer, _HoldsTransformInputsLock

    assert type(producer) is LockedDbtProducer
    model_tasks = [t for t in transform.tasks if t.task_id != PRODUCER_TASK_ID]
    assert all(isinstance(t, _HoldsTransformInputsLock) for t in model_tasks)
    assert {t.invocation_mode for t in [producer, *model_tasks]} == {InvocationMode.DBT_RUNNER}
    roots = {t.task_id for t in transform.tasks if not t.upstream_task_ids}
    assert roots == {m for m in MODELS if m.startswith("stg_")} | {PRODUCER_TASK_ID}  # the models start with dbt
    for task_id in MODELS | {BUILD_STAMP}:  # each pokes in its own process, twice a second: no triggerer round trip
        task = transform.get_task(task_id)
        assert (task.mode, task.deferrable, task.poke_interval, task.retries) == ("poke", False, 0.5, 0)
    marts = transform.get_task("mart_churned_customers")  # reports the intermediate models: waits for their parents
    assert marts.upstream_task_ids == {"stg_customers", "stg_customer_logins", "stg_committed_loads",
                                       "stg_customer_products", "stg_tickets"}
    assert transform.get_task("churn_list_snapshots").upstream_task_ids == {"mart_churned_customers"}
    # built on every served view: waits for the task of each view's mart
    assert transform.get_task(BUILD_STAMP).upstream_task_ids == SERVED_OWNERS


def test_each_model_publishes_its_asset_and_its_folded_models_from_the_task_that_saw_its_tests(transform) -> None:  # type: ignore[no-untyped-def]
    for model in MODELS:
        task = transform.get_task(model)
        assert task.is_test_sensor, f"{model}: its task must wait for the model's tests"
        folded = sorted(m for m, (owner, _) in FOLDED.items() if owner == model)
        assert [m.rsplit(".", 1)[1] for m in task.reported_with] == folded, model
        own = mart_uri(model) if not model.startswith("stg_") else mart_uri(model).replace("/marts/", "/staging/")
        assert [a.uri for a in task.outlets] == [own, *(FOLDED[m][1] for m in folded)], model
    assert transform.get_task(PRODUCER_TASK_ID).outlets == []


def test_a_test_over_a_mart_and_a_staging_model_counts_against_the_mart_only(transform) -> None:  # type: ignore[no-untyped-def]
    tests = transform.get_task(PRODUCER_TASK_ID).tests_per_model
    singular = "test.support_analytics.assert_ticket_analytics_has_every_ticket"
    assert singular in tests["model.support_analytics.mart_ticket_analytics"]
    assert singular not in tests["model.support_analytics.stg_tickets"]
    relationship = [t for t in tests["model.support_analytics.stg_tickets"] if ".relationships_" in t
                    and "ref_stg_customers" in t]
    assert relationship and relationship[0] in tests["model.support_analytics.stg_customers"]


def test_a_run_conf_asks_dbt_for_the_full_check(transform, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """conf {"full_tests": true} reaches dbt as SA_DBT_FULL_TESTS=true; without it the worker's own value stands."""
    from types import SimpleNamespace

    from include import pipeline
    from include.transform.cosmos_adapter import _full_tests_macro

    producer = transform.get_task(PRODUCER_TASK_ID)
    assert producer.env[pipeline.FULL_TESTS_ENV] == "{{ sa_full_tests() }}"
    monkeypatch.delenv(pipeline.FULL_TESTS_ENV, raising=False)
    assert _full_tests_macro({"dag_run": SimpleNamespace(conf={"full_tests": True})}) == "true"
    assert _full_tests_macro({"dag_run": SimpleNamespace(conf={"full_tests": "TRUE"})}) == "true"
    assert _full_tests_macro({"dag_run": SimpleNamespace(conf={"full_tests": False})}) == ""
    assert _full_tests_macro({"dag_run": SimpleNamespace(conf={})}) == ""
    monkeypatch.setenv(pipeline.FULL_TESTS_ENV, "true")
    assert _full_tests_macro({"dag_run": SimpleNamespace(conf={})}) == "true"
    with pytest.raises(Exception, match="must be true or false"):
        _full_tests_macro({"dag_run": SimpleNamespace(conf={"full_tests": "yes"})})
