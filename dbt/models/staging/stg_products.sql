-- Product catalogue, trimmed (names are kept as the catalogue spells them, e.g. 'Digital Lending').
with

source as (

    select * from {{ source('analytics', 'products') }}

),

final as (

    select
        trim(product_id) as product_id,

        trim(product_name) as product_name,
        trim(product_category) as product_category,
        trim(product_type) as product_type,

        monthly_fee,

        launched_at,
        updated_at,

        _batch_id  -- the load that wrote the row: its committed sequence drives incremental marts

    from source

)

select * from final
