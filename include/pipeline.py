"""The nightly chain's fixed names: DAG ids, task ids, Asset names and URIs, XCom keys, the dbt as-of variable.

One owner for each name: DAG files, callbacks, run summaries, the demo and the tests read them here, so renaming a
task is a one-line change. Imports nothing heavier than the settings module (DAG files import this at parse time).
"""

from __future__ import annotations

from include import contract
from include.config import SCHEMA_MARTS, SCHEMA_SERVING, SCHEMA_SOURCES, get_settings

EXTRACT_DAG = "support_extract"
TRANSFORM_DAG = "support_transform"
EXPORT_DAG = "support_churn_export"
CHAIN = (EXTRACT_DAG, TRANSFORM_DAG, EXPORT_DAG)
FRESHNESS_DAG = "support_freshness"  # hourly: are the marts fresh? (alerts when they are not)
SOURCE_DAG = "source_system_simulator"  # local only (SA_SIMULATED_SOURCE): the simulated source systems
DOCS_DAG = "support_dbt_docs"  # after each transform, off the chain's critical path: dbt docs for the UI
DBT_DOCS_SLUG = "support_analytics"  # the project's key in AIRFLOW__COSMOS__DBT_DOCS_PROJECTS (URL /cosmos/<slug>/)

# support_extract
RESOLVE_BATCH_TASK = "resolve_batch"
LOAD_TASK_PREFIX = "load_"
VALIDATE_BATCH_TASK = "validate_batch"
# support_transform: the Cosmos WATCHER producer (Cosmos names it; include.transform.cosmos_adapter checks it)
DBT_PRODUCER_TASK = "dbt_producer_watcher"
# support_churn_export
EXPORT_TASK = "export_churn_lists"
# every DAG: the teardown that writes audit.run_summary
SUMMARY_TASK = "summarize_run"

# Emitted by support_extract only after the Great Expectations gate passed, partitioned by the batch it validated
# (`history` or the date); schedules one support_transform run per batch. Its extra also names the batch.
VALIDATED_BATCH_ASSET = "support_analytics.validated_batch"
BATCH_ID_EXTRA = "batch_id"
# The churn lists: the dbt model in `marts`, and the relation whose Asset (the `serving` view, published after the
# mart, its tests and the `pii` variant were built; partitioned by the as-of date) schedules the export.
CHURN_LISTS_MODEL = "churn_list_snapshots"

# The churn as-of date as the transform passes it to dbt (read by the macro `churn_as_of_date`).
AS_OF_DATE_ENV = "SA_AS_OF_DATE"
# Every row tested (dbt macro tests_every_row): a transform run with conf {"full_tests": true}, or workers started
# with SA_DBT_FULL_TESTS=true; otherwise the big tables' tests check their new rows (but on the weekly full-check day).
FULL_TESTS_ENV = "SA_DBT_FULL_TESTS"
FULL_TESTS_CONF = "full_tests"


def load_task_id(table: str) -> str:
    return f"{LOAD_TASK_PREFIX}{table}"


def source_table_uris() -> dict[str, str]:
    """The Asset URI of each source table, built as Cosmos builds the URIs of dbt sources."""
    settings = get_settings()
    return {t.name: settings.table_uri(SCHEMA_SOURCES, t.name) for t in contract.TABLES}


def mart_uri(model: str) -> str:
    return get_settings().table_uri(SCHEMA_MARTS, model)


def serving_uri(relation: str) -> str:
    """The Asset URI of a view in `serving` (named like the mart it serves)."""
    return get_settings().table_uri(SCHEMA_SERVING, relation)
