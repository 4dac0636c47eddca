-- mart_ticket_analytics has exactly the tickets of stg_tickets (left joins never drop or repeat a ticket), and
-- every ticket found its customer, product and category (a ticket without its dimensions would vanish from
-- every segment/product/category breakdown).
with

staged as (

    select count(*) as n from {{ ref('stg_tickets') }}

),

mart as (

    select
        count(*) as n,
        count(*) filter (
            where customer_segment is null or product_name is null or category_name is null
        ) as without_dimensions

    from {{ ref('mart_ticket_analytics') }}

),

final as (

    select
        staged.n as staged_tickets,
        mart.n as mart_tickets,
        mart.without_dimensions

    from staged
    cross join mart
    where staged.n <> mart.n or mart.without_dimensions > 0

)

select * from final
