"""Helpers shared by the tests that run real DAGs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

DAGS = Path(__file__).resolve().parents[1] / "dags"


def load_dag(dag_id: str) -> Any:
    """The DAG as the dag-processor builds it from `dags/` (failing on any import error)."""
    from airflow.dag_processing.dagbag import BundleDagBag

    bag = BundleDagBag(str(DAGS), bundle_path=str(DAGS))
    assert bag.import_errors == {}
    return bag.dags[dag_id]


def task_states(run: Any) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
