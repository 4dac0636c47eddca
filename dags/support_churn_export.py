"""
### support_churn_export — publish the churn lists for the retention team

**Schedule:** one run per as-of date, on the Asset of `serving.churn_list_snapshots` — which `support_transform`
emits, partitioned by its as-of date, only after `marts.churn_list_snapshots` and its dbt tests passed and the
lists' `serving` (masked) and `pii` views were built: a failing dbt test never reaches this DAG, and a backfill gets
one export per day (the run's partition key is the date).

**What it does:** reads, in one REPEATABLE READ transaction, that date's lists (kept per date, so a later build
does not change them) — as the *reader* role from `serving.churn_list_snapshots`, contacts masked; only with
`SA_EXPORT_INCLUDE_PII=true` as the *pii_reader* role from `pii.churn_list_snapshots` — and writes
`churned_customers` (churned within 90 days, incl. the 30-day ones) and `high_risk_customers` (risk level high or
critical) as CSV and Parquet plus `manifest.json` (as-of date, row counts, sha256, source, generated at) to
`$SA_EXPORT_ROOT/<as_of_date>/` (a folder, or any fsspec URL such as `s3://…`). A rerun replaces that date's
files atomically (old or new, never neither). The files hold exactly the lists' columns (the dbt model's select
list is the allow-list). A manual run exports conf `{"as_of_date": "YYYY-MM-DD"}`, else the newest lists.

**On failure:** usually the warehouse or the export root is unreachable (the alert says which); clear the task
once it is back. Re-running is always safe.

**Alerts** (README "Alerts"): a failure sends one e-mail and one chat message after the retries, the next
successful run an all-clear, a run not finished `SA_LATE_AFTER_MINUTES` (if set) after it was queued a late alert.
`summarize_run` writes the run's row of `audit.run_summary` (rows exported, export time).
"""

from __future__ import annotations

import pendulum
from airflow.sdk import Asset, PartitionedAssetTimetable, dag, task

from include.dag_defaults import as_of_date_params, dag_alerting, default_args, summary_task_args, with_ui_links
from include.pipeline import CHURN_LISTS_MODEL, EXPORT_DAG, EXPORT_TASK, serving_uri
from include.run_dates import export_as_of_date


@dag(
    dag_id=EXPORT_DAG,
    schedule=PartitionedAssetTimetable(assets=Asset(serving_uri(CHURN_LISTS_MODEL))),  # one run per as-of date
    start_date=pendulum.datetime(2025, 11, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(),
    tags=["support-analytics", "export"],
    params=as_of_date_params(),
    doc_md=with_ui_links(__doc__),
    **dag_alerting(),
)
def support_churn_export() -> None:
    @task(task_id=EXPORT_TASK)
    def export_churn_lists(**context: object) -> dict[str, object]:
        """Write both lists and the manifest of the run's as-of date (atomic swap)."""
        from include.export.churn import export_churn

        result = export_churn(export_as_of_date(context))
        print(f"exported {result.rows} for {result.as_of_date} to {result.folder} (PII included: "
              f"{result.pii_included})")
        return {"as_of_date": result.as_of_date, "folder": result.folder, "rows": result.rows,
                "seconds": result.seconds}

    @task(**summary_task_args())
    def summarize_run(**context: object) -> dict[str, object]:
        """Writes this run's row of `audit.run_summary`. A teardown: runs after a failure too, never fails the run."""
        from include.run_summary import summarize_export

        return summarize_export(context)

    export_churn_lists() >> summarize_run().as_teardown()


support_churn_export()
