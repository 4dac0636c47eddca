-- Login events (append-only). `_batch_id` names the load that wrote the row (incremental models and the tests on new
-- rows select by it).
with

source as (

    select * from {{ source('analytics', 'customer_logins') }}

),

final as (

    select
        trim(login_id) as login_id,
        trim(customer_id) as customer_id,

        lower(trim(device)) as device,
        nullif(lower(trim(app_version)), '') as app_version,

        login_at,

        _batch_id

    from source

)

select * from final
