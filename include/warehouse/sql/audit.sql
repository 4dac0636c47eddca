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
    status            text        not null check (status in ('running', 'success', 'failed')),
    message           text,
    started_at        timestamptz not null,
    finished_at       timestamptz,
    primary key (batch_id, table_name)
);

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
