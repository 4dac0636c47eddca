"""The extract DAG run for real with `dag.test()`: history bootstrap by run conf, then one logical date."""

from __future__ import annotations

import pendulum
import pytest

from include import contract
from include.warehouse.connect import connect
from tests.airflow_helpers import load_dag, task_states

pytestmark = pytest.mark.e2e



def test_extract_dag_bootstraps_history_then_lands_and_validates_a_day(airflow_db, landing, empty_warehouse) -> None:  # type: ignore[no-untyped-def]
    dag = load_dag("support_extract")
    history = dag.test(run_conf={"batch": "history"})
    assert history.state == "success", task_states(history)

    day = dag.test(logical_date=pendulum.datetime(2025, 11, 1, 2, tz="UTC"))
    assert day.state == "success", task_states(day)
    assert set(task_states(day).values()) == {"success"}
    assert {f"load_{t.name}" for t in contract.TABLES} | {"validate_batch", "verify_delivery"} <= set(task_states(day))

    with connect("admin", empty_warehouse) as conn:
        log = dict(conn.execute("select table_name, rows_in from audit.load_batches where batch_id = '2025-11-01'"
                                " and status = 'success'").fetchall())
        validated = conn.execute("select count(*), bool_and(success) from audit.validation_results"
                                 " where batch_id = '2025-11-01'").fetchone()
    assert log == landing.folder("2025-11-01").rows
    assert validated[0] > 90 and validated[1] is True  # a night (a Saturday): the batch suites of 7 tables
