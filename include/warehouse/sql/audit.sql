-- Load and audit metadata, owned by the loader role. Idempotent: applied by every bootstrap.

create table if not exists audit.load_batches (
    batch_id          text        not null,  -- 'history' or the logical date 'YYYY-MM-DD'
    logical_date      date,                  -- null for the history batch
    table_name        text        not null,
    source_file       text        not null,
    sha256            text        not null,
    rows_in           bigint      not null default 0,
    rows_loaded       bigint      not null default 0,
    rows_quarantined  bigint      not null default 0,
    rows_superseded   bigint      not null default 0,  -- valid rows not applied: the table holds a newer version
    rows_kept         bigint      not null default 0,  -- rows of an earlier delivery of this batch kept: this
                                                       -- delivery quarantined (or dropped) their new version
    status            text        not null check (status in ('running', 'success', 'failed')),
    message           text,
    started_at        timestamptz not null,
    finished_at       timestamptz,
    primary key (batch_id, table_name)
);

alter table audit.load_batches add column if not exists rows_superseded bigint not null default 0;
alter table audit.load_batches add column if not exists rows_kept bigint not null default 0;

-- The committed batch sequence: each successful load of a (batch, table) takes the next number as the last step of
-- its transaction, so a row of `analytics.T` tagged `_batch_id` B was written by the load numbered `load_seq` of
-- (B, T) — its latest success (a failed re-run keeps it: its rows stay). Loads take the transform-inputs lock shared
-- until they commit and dbt holds it exclusively (include/warehouse/locks.py), so when a build starts every number
-- handed out so far is committed: an incremental model that read up to N reads every row numbered above N next
-- time — unlike `_loaded_at`, the load transaction's start, which a load committing late would leave behind.
create sequence if not exists audit.load_seq;
alter table audit.load_batches add column if not exists load_seq bigint;

-- Whether that load only appended: the table held no row of the batch before it and it rewrote no existing key, so
-- the rows tagged with the batch are exactly the keys it inserted — none of them was in any earlier build's input.
-- int_customer_login_totals adds such a load's logins to its stored totals instead of recounting the customers, and
-- int_customer_churn_activity moves only the last login of the customers they alone touched.
-- Set by each successful load (a failed re-run keeps it, as it keeps load_seq); null for loads before this column.
alter table audit.load_batches add column if not exists appended_only boolean;

-- What the transformer reads of the load log: the sequence per (batch, table) and whether it only appended.
create or replace view audit.committed_loads as
select batch_id, table_name, load_seq, appended_only
from audit.load_batches
where load_seq is not null;

-- Per incremental model, the highest load number its last build merged (written by the model's post-hook in the
-- build's transaction, dbt/macros/incremental_watermark.sql). The transformer reads and writes it, nothing else here.
create table if not exists audit.build_watermarks (
    model_name  text        primary key,  -- schema.relation
    load_seq    bigint      not null,
    built_at    timestamptz not null
);
-- the as-of date the model's last build computed its rows for (int_customer_churn_activity; mart_churned_customers
-- reads it); added after the table's first version
alter table audit.build_watermarks add column if not exists as_of_date date;

create table if not exists audit.quarantine (
    batch_id        text        not null,
    table_name      text        not null,
    source_file     text        not null,
    line_number     bigint      not null,  -- physical line in the decompressed file (header = line 1)
    raw_line        text        not null,
    reason          text        not null,
    quarantined_at  timestamptz not null,
    primary key (batch_id, table_name, line_number)
);

-- One row per expectation per validation run of the Great Expectations gate.
create table if not exists audit.validation_results (
    run_id             text        not null,
    batch_id           text        not null,
    table_name         text        not null,
    suite_name         text        not null,
    expectation_type   text        not null,
    column_name        text,
    success            boolean     not null,
    unexpected_count   bigint,
    unexpected_sample  text,
    observed_value     text,
    exception_message  text,
    validated_at       timestamptz not null
);
create index if not exists validation_results_batch on audit.validation_results (batch_id, table_name);

-- One row per DAG run of the nightly chain, written by the run's last task (`summarize_run`, include/run_summary.py);
-- `state` is set by the DAG-level callbacks only ('running' until Airflow's verdict; a re-run keeps the last verdict
-- until its own). Counts are null where a DAG has no such step or the step did not run.
create table if not exists audit.run_summary (
    dag_id              text        not null,
    run_id              text        not null,
    run_date            text        not null,  -- what the run worked on: batch 'YYYY-MM-DD' / 'history', or as-of date
    logical_date        timestamptz,           -- null for manual and asset-triggered runs
    state               text        not null check (state in ('running', 'success', 'failed')),  -- Airflow's verdict
    failed_tasks        text,                  -- task ids that failed (comma-separated; upstream_failed not listed)
    rows_landed         bigint,                -- extract: rows upserted by the loads of this run
    rows_quarantined    bigint,                -- extract: rows set aside in audit.quarantine
    validations_passed  integer,               -- extract: expectations of the gate run
    validations_failed  integer,
    models_built        integer,               -- transform: dbt models built
    tests_passed        integer,               -- transform: dbt data and unit tests
    tests_failed        integer,
    exported_rows       bigint,                -- export: rows written (both lists)
    load_seconds        numeric(12, 3),        -- summed task durations per step (as Airflow records them)
    validation_seconds  numeric(12, 3),
    dbt_seconds         numeric(12, 3),        -- dbt's own run time (run_results.json), each dbt call of the run
    export_seconds      numeric(12, 3),
    task_seconds        numeric(12, 3),        -- every task of the run (extract, export; not the transform)
    started_at          timestamptz,           -- the DAG run's start
    finished_at         timestamptz,
    updated_at          timestamptz not null default now(),
    primary key (dag_id, run_id)
);
create index if not exists run_summary_date on audit.run_summary (run_date, dag_id);

-- The night per date: the latest run of each DAG for that date folded into one row.
create or replace view audit.run_summary_by_date as
with latest as (
    select distinct on (run_date, dag_id) *
    from audit.run_summary
    order by run_date, dag_id, coalesce(finished_at, updated_at) desc
)
select
    run_date,
    max(state) filter (where dag_id = 'support_extract')      as extract_state,
    max(state) filter (where dag_id = 'support_transform')    as transform_state,
    max(state) filter (where dag_id = 'support_churn_export') as export_state,
    sum(rows_landed)        as rows_landed,
    sum(rows_quarantined)   as rows_quarantined,
    sum(validations_passed) as validations_passed,
    sum(validations_failed) as validations_failed,
    sum(models_built)       as models_built,
    sum(tests_passed)       as tests_passed,
    sum(tests_failed)       as tests_failed,
    sum(exported_rows)      as exported_rows,
    sum(load_seconds)       as load_seconds,
    sum(validation_seconds) as validation_seconds,
    sum(dbt_seconds)        as dbt_seconds,
    sum(export_seconds)     as export_seconds,
    sum(task_seconds)       as task_seconds,
    min(started_at)         as started_at,
    max(finished_at)        as finished_at,
    string_agg(dag_id || ': ' || failed_tasks, '; ' order by dag_id) filter (where failed_tasks <> '') as failed_tasks
from latest
group by run_date;

-- Quarantined rows keep raw source lines (PII): purged after SA_QUARANTINE_RETENTION_DAYS by the loads
-- (include/ingest/retention.py), table by table, by the time they were quarantined.
create index if not exists quarantine_retention on audit.quarantine (table_name, quarantined_at);

-- The freshness check's last verdict (support_freshness, include/freshness.py): it alerts on a change only.
create table if not exists audit.freshness_state (
    check_name  text        primary key,
    stale       boolean     not null,
    since       timestamptz not null,   -- when the current verdict started
    detail      text,
    checked_at  timestamptz not null
);
