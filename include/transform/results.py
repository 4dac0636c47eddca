"""The node results of a dbt invocation in compact form: kept in XCom `DBT_RESULTS_XCOM` of the task that ran dbt
(by `include.transform.dbt_callback.keep_dbt_results`), read by the failure alert and the run summary.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

DBT_RESULTS_XCOM = "sa_dbt_results"
DBT_ELAPSED_XCOM = "sa_dbt_elapsed"  # seconds dbt itself spent executing (run_results.json's elapsed_time)
PASSED_STATUSES = ("success", "pass")

# [unique_id, status, seconds, message-or-None] per node
CompactResult = list[Any]


def compact_results(run_results: dict[str, Any]) -> list[CompactResult]:
    """(unique_id, status, seconds, message) per node of dbt's `run_results.json`; the message only for nodes that
    did not pass."""
    return [[r["unique_id"], str(r.get("status")), round(float(r.get("execution_time") or 0), 3),
             None if str(r.get("status")) in PASSED_STATUSES else r.get("message")]
            for r in run_results.get("results", [])]


def pull_results(ti: Any, task_ids: str | Iterable[str]) -> list[CompactResult]:
    """The results kept by one task, or by several (concatenated)."""
    ids = [task_ids] if isinstance(task_ids, str) else list(task_ids)
    results: list[CompactResult] = []
    for task_id in ids:
        pulled = ti.xcom_pull(task_ids=task_id, key=DBT_RESULTS_XCOM)
        if isinstance(pulled, list):
            results += pulled
    return results


def count_results(results: Iterable[CompactResult]) -> dict[str, int]:
    """Models built and tests (data + unit) passed/failed."""
    counts = {"models_built": 0, "tests_passed": 0, "tests_failed": 0}
    for unique_id, status, *_ in results:
        kind = unique_id.split(".", 1)[0]
        if kind == "model" and status == "success":
            counts["models_built"] += 1
        elif kind in ("test", "unit_test"):
            if status == "pass":
                counts["tests_passed"] += 1
            elif status in ("fail", "error"):
                counts["tests_failed"] += 1
    return counts
