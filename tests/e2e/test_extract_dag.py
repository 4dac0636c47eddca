"""The extract DAG run for real with `dag.test()`: history bootstrap by run conf, then one logical date."""

from __future__ import annotations

from pathlib import Path

import pendulum
import pytest

from include import contract
from include.warehouse.connect import connect

pytestmark = pytest.mark.e2e

DAGS = Path(__file__).resolve().parents[2] / "dags"


def _dag(dag_id: str):  # type: ignore[no-untyped-def]
    from airflow.dag_processing.dagbag import BundleDagBag

    bag = BundleDagBag(str(DAGS), bundle_path=str(DAGS))
    assert bag.import_errors == {}
    return bag.dags[dag_id]


def _states(run) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {ti.task_id: str(ti.state) for ti in run.get_task_instances()}


def test_extract_dag_bootstraps_history_then_lands_and_validates_a_day(airflow_db, landing, empty_warehouse) -> None:  # type: ignore[no-untyped-def]
    dag = _dag("support_extract")
    history = dag.test(run_conf={"batch": "history"})
    assert history.state == "success", _states(history)

    day = dag.test(logical_date=pendulum.datetime(2025, 11, 1, 2, tz="UTC"))
    assert day.state == "success", _states(day)
    assert set(_states(day).values()) == {"success"}
    assert {f"load_{t.name}" for t in contract.TABLES} | {"validate_batch", "verify_delivery"} <= set(_states(day))

    with connect("admin", empty_warehouse) as conn:
        log = dict(conn.execute("select table_name, rows_in from audit.load_batches where batch_id = '2025-11-01'"
                                " and status = 'success'").fetchall())
        validated = conn.execute("select count(*), bool_and(success) from audit.validation_results"
                                 " where batch_id = '2025-11-01'").fetchone()
    assert log == landing.folder("2025-11-01").rows
    assert validated[0] > 100 and validated[1] is True
