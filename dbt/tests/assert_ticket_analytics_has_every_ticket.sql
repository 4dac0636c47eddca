-- Every ticket of stg_tickets is in mart_ticket_analytics, with its customer, product and category (a ticket without
-- its dimensions would vanish from every segment/product/category breakdown), and the mart has no other ticket.
-- Nightly: the tickets loaded since the period marts' last build (macros/tests_on_new_rows.sql) — the merge never
-- removes a mart row and the unique index on ticket_id keeps one row per ticket, so the others were checked the
-- night they were loaded. On the weekly full check: every ticket, and the two counts.
with

staged as (

    select ticket_id from {{ ref('stg_tickets') }}
    where {{ new_rows_condition('mart_top_root_causes', 'support_tickets') }}

),

missing as (

    select
        staged.ticket_id,
        case
            when mart.ticket_id is null then 'not in mart_ticket_analytics'
            else 'without its customer, product or category'
        end as problem

    from staged
    left join {{ ref('mart_ticket_analytics') }} as mart on staged.ticket_id = mart.ticket_id
    where
        mart.ticket_id is null
        or mart.customer_segment is null
        or mart.product_name is null
        or mart.category_name is null

),

{% if tests_every_row() %}
    staged_count as (

        select count(*) as n from {{ ref('stg_tickets') }}

    ),

    mart_count as (

        select count(*) as n from {{ ref('mart_ticket_analytics') }}

    ),

    counts as (

        select
            null::text as ticket_id,
            'mart_ticket_analytics has ' || mart_count.n || ' tickets, stg_tickets ' || staged_count.n as problem

        from staged_count
        cross join mart_count
        where staged_count.n <> mart_count.n

    ),
{% endif %}

final as (

    select * from missing
    {% if tests_every_row() %}
        union all
        select * from counts
    {% endif %}

)

select * from final
