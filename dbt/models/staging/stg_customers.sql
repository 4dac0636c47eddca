-- Customers, trimmed; the segment normalised to its contract spelling (Standard, Premium, Business, Student).
with

source as (

    select * from {{ source('analytics', 'customers') }}

),

final as (

    select
        trim(customer_id) as customer_id,

        trim(customer_name) as customer_name,
        lower(trim(email)) as email,
        nullif(trim(phone), '') as phone,
        initcap(trim(customer_segment)) as customer_segment,
        trim(city) as city,

        signup_date,
        updated_at,

        _batch_id  -- the load that wrote the row: its committed sequence drives incremental marts

    from source

)

select * from final
