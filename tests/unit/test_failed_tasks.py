"""`failed_tasks` of the run summary after a task failed (include/run_summary.py `failed_task_list`)."""

from __future__ import annotations

from include.run_summary import failed_task_list


def test_the_failing_task_and_those_airflow_reports_failed_sorted_once() -> None:
    states = {"dbt_producer_watcher": "failed", "stg_tickets": "running", "stg_customers": "success"}
    assert failed_task_list(None, "stg_customer_products", states) == "dbt_producer_watcher, stg_customer_products"
    assert failed_task_list("stg_customer_products", "stg_customer_products", states) == (
        "dbt_producer_watcher, stg_customer_products")


def test_a_task_listed_before_stays_until_it_succeeded_and_states_unreadable_keep_the_list() -> None:
    # load_a failed earlier and was cleared: re-run successfully it drops out; still running (or failing) it stays
    assert failed_task_list("load_a, load_b", "validate", {"load_a": "success", "load_b": "running"}) == (
        "load_b, validate")
    assert failed_task_list("load_a", "validate", None) == "load_a, validate"
