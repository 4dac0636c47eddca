-- Login events (append-only).
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

        login_at

    from source

)

select * from final
