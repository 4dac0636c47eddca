"""`keep_dbt_results`: the Cosmos `callback` of the transform's dbt tasks (operator_args in the Cosmos adapter).

Cosmos runs dbt in a temporary copy of the project that is gone after the task; after each dbt invocation, pass or
fail, this keeps the compact node results as XCom of the task that ran dbt (for the failure alert) and writes the
run's dbt counts to `audit.run_summary` (`include.run_summary.summarize_transform`).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from include.run_summary import summarize_transform
from include.transform.results import DBT_ELAPSED_XCOM, DBT_RESULTS_XCOM, compact_results

log = logging.getLogger(__name__)


def keep_dbt_results(project_dir: str, context: dict[str, Any] | None = None, **_: Any) -> None:
    """Cosmos `callback`: after each dbt invocation (pass or fail), push its node results to XCom and write the
    run summary's dbt counts.

    Never raises: it must not break a dbt task."""
    try:
        path = Path(project_dir) / "target" / "run_results.json"
        if context is None or not path.exists():
            return
        run_results = json.loads(path.read_text())
        results = compact_results(run_results)
        elapsed = round(float(run_results.get("elapsed_time") or 0), 3)
        context["ti"].xcom_push(key=DBT_RESULTS_XCOM, value=results)
        context["ti"].xcom_push(key=DBT_ELAPSED_XCOM, value=elapsed)
    except Exception as exc:
        log.warning("dbt results not kept: %s: %s", type(exc).__name__, exc)
        return
    try:
        summarize_transform(context, results, elapsed)
    except Exception as exc:
        log.warning("run summary not written: %s: %s", type(exc).__name__, exc)
