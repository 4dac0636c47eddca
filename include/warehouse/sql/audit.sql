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
    status            text        not null check (status in ('running', 'success', 'failed')),
    message           text,
    started_at        timestamptz not null,
    finished_at       timestamptz,
    primary key (batch_id, table_name)
);

alter table audit.load_batches add column if not exists rows_superseded bigint not null default 0;

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
