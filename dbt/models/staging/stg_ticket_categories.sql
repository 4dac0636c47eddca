-- Ticket categories (current names).
with

source as (

    select * from {{ source('analytics', 'ticket_categories') }}

),

final as (

    select
        trim(category_id) as category_id,

        trim(category_name) as category_name,

        updated_at,

        _batch_id  -- the load that wrote the row: its committed sequence drives incremental marts

    from source

)

select * from final
