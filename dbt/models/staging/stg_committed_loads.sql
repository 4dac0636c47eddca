-- The load log's committed batch sequence: one number per (batch, source table), the table's latest successful
-- load of that batch (include/warehouse/sql/audit.sql). A source row's `_batch_id` and its table name find the load
-- that wrote it; incremental marts take the rows whose number is above the highest they have already merged.
-- appended_only: that load only inserted new keys (audit.sql).
with

source as (

    select * from {{ source('audit', 'committed_loads') }}

),

final as (

    select
        batch_id,
        table_name,
        load_seq,
        appended_only

    from source

)

select * from final
