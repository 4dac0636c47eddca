-- Ticket categories (current names).
with

source as (

    select * from {{ source('analytics', 'ticket_categories') }}

),

final as (

    select
        trim(category_id) as category_id,

        trim(category_name) as category_name,

        updated_at

    from source

)

select * from final
