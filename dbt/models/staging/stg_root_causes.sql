-- Root causes with severity and the release that introduced them (related_release = 'v1.2': a v1.2 regression).
with

source as (

    select * from {{ source('analytics', 'root_causes') }}

),

final as (

    select
        trim(root_cause_id) as root_cause_id,

        trim(root_cause_name) as root_cause_name,
        lower(trim(severity)) as severity,
        nullif(lower(trim(related_release)), '') as related_release,

        updated_at,

        _batch_id  -- the load that wrote the row: its committed sequence drives incremental marts

    from source

)

select * from final
