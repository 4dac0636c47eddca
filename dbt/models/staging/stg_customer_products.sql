-- Product holdings, one row per holding.
with

source as (

    select * from {{ source('analytics', 'customer_products') }}

),

final as (

    select
        trim(holding_id) as holding_id,
        trim(customer_id) as customer_id,
        trim(product_id) as product_id,

        monthly_revenue,

        opened_at,
        closed_at,
        updated_at,

        _batch_id  -- the load that wrote the row: its committed sequence drives incremental models

    from source

)

select * from final
