-- serving.pipeline_status: the night per date for the reader (MCP tool pipeline.status) — audit.run_summary_by_date
-- plus the expectations that failed in the latest validation of each table of the batch (names only: no sample
-- value, nothing from audit.quarantine). Created by the bootstrap and owned by the loader, so it reads audit with
-- the loader's rights and exists whether or not a dbt build ever ran or succeeded.
create or replace view serving.pipeline_status as
select
    summary.run_date,
    summary.extract_state,
    summary.transform_state,
    summary.export_state,
    summary.rows_landed,
    summary.rows_quarantined,
    summary.validations_passed,
    summary.validations_failed,
    summary.models_built,
    summary.tests_passed,
    summary.tests_failed,
    summary.exported_rows,
    summary.failed_tasks,
    checks.failed_checks,
    summary.started_at,
    summary.finished_at
from audit.run_summary_by_date as summary
left join lateral (
    select string_agg(
        distinct result.expectation_type || ' on ' || result.table_name || coalesce('.' || result.column_name, ''),
        '; '
    ) as failed_checks
    from audit.validation_results as result
    where result.batch_id = summary.run_date
        and not result.success
        and result.validated_at = (
            select max(latest.validated_at)
            from audit.validation_results as latest
            where latest.batch_id = result.batch_id and latest.table_name = result.table_name
        )
) as checks on true
