-- Per customer, as of the churn as-of date: contact and segment, login activity, holdings and tickets — every column
-- of mart_churned_customers that does not move by itself as days pass. The mart (a view) adds what does: days since
-- the last login, the flags, the score and its level, from these counts and the as-of date this model's last build
-- recorded (audit.build_watermarks.as_of_date).
--
-- Incremental, merged on customer_id: a build recomputes only the customers whose row can differ from the last
-- build's —
--   * a load committed since then wrote their customer row, a holding, a ticket or a login of theirs (the load log's
--     committed sequence, macros/incremental_watermark.sql);
--   * the as-of date moved (forwards or backwards, a backfill) and one of their events crosses a window edge between
--     the two dates: a login day entering or leaving the last 30 / prior 60 days or the totals; a ticket created or
--     resolved across the as-of day's end or 90 days before it; a holding opened, or closed across the as-of date,
--     90 or 120 days before it.
-- Everyone else's counts are the same as of either date. A full refresh gives the same rows. Customers who signed up
-- after the as-of date are kept (the mart leaves them out). A source that moves a ticket or a holding to another
-- customer, or rewrites rows behind the extract, needs a --full-refresh (the old customer is not known).
{{
    config(
        materialized='incremental',
        unique_key='customer_id',
        incremental_strategy='merge',
        on_schema_change='fail',
        post_hook=[
            "{{ record_merged_load_seq(as_of_date=churn_as_of_date(ref('int_customer_login_totals'))) }}",
            "create unique index if not exists int_customer_churn_activity_key on {{ this }} (customer_id)",
            "create index if not exists int_customer_churn_activity_clv on {{ this }} (estimated_clv)",
        ],
    )
}}
-- depends_on: {{ source('audit', 'build_watermarks') }}
-- depends_on: {{ ref('stg_committed_loads') }}
{%- set as_of_date = churn_as_of_date(ref('int_customer_login_totals')) %}
{#- Which customers to recompute: every one (a full build; no as-of date recorded yet, or none to compute: no login in
    the data), or `affected` below. -#}
{%- set recompute_all = true %}
{%- if is_incremental() and execute %}
    {#- this build's as-of date and the one the last build recorded -#}
    {%- set dates = run_query(
        "select (" ~ as_of_date ~ ")::text, (select as_of_date::text from " ~ source('audit', 'build_watermarks')
        ~ " where model_name = '" ~ this.schema ~ "." ~ this.identifier ~ "')").rows[0] %}
    {%- if dates[0] is not none and dates[1] is not none %}
        {%- set recompute_all = false %}
        {%- set moved = dates[0] != dates[1] %}
        {%- set low, high = [dates[0], dates[1]] | min, [dates[0], dates[1]] | max %}
    {%- endif %}
{%- endif %}

with

{% if not recompute_all %}

    affected as (

        select customer_id from {{ ref('stg_customers') }}
        where _batch_id = any({{ batches_loaded_since_last_build('customers') }})
        union
        select customer_id from {{ ref('stg_customer_products') }}
        where _batch_id = any({{ batches_loaded_since_last_build('customer_products') }})
        union
        select customer_id from {{ ref('stg_tickets') }}
        where _batch_id = any({{ batches_loaded_since_last_build('support_tickets') }})
        union
        select customer_id from {{ ref('stg_customer_logins') }}
        where _batch_id = any({{ batches_loaded_since_last_build('customer_logins') }})
        {% if moved %}
            -- events crossing a window edge between the two as-of dates (low, high]: a login's UTC day entering or
            -- leaving the last 30 / prior 60 days or the totals
            union
            select customer_id from {{ ref('stg_customer_logins') }}
            where
                {%- for days in (0, 30, 90) %}
                    {{ 'or ' if not loop.first }}(login_at >= (date '{{ low }}' + 1 - {{ days }})::timestamp at time zone 'UTC'
                        and login_at < (date '{{ high }}' + 1 - {{ days }})::timestamp at time zone 'UTC')
                {%- endfor %}
            union
            select customer_id from {{ ref('stg_tickets') }}
            where
                {%- for column in ('created_at', 'resolved_at') %}
                    {{ 'or ' if not loop.first }}({{ column }} >= (date '{{ low }}' + 1)::timestamp at time zone 'UTC'
                        and {{ column }} < (date '{{ high }}' + 1)::timestamp at time zone 'UTC')
                    or ({{ column }} >= (date '{{ low }}' - 89)::timestamp at time zone 'UTC'
                        and {{ column }} < (date '{{ high }}' - 89)::timestamp at time zone 'UTC')
                {%- endfor %}
            union
            select customer_id from {{ ref('stg_customer_products') }}
            where
                (opened_at > date '{{ low }}' and opened_at <= date '{{ high }}')
                {%- for days in (0, 90, 120) %}
                    or (closed_at > date '{{ low }}' - {{ days }} and closed_at <= date '{{ high }}' - {{ days }})
                {%- endfor %}
        {% endif %}

    ),

{% endif %}

{#- the rows of a customer-keyed relation this build recomputes -#}
{%- set recomputed = 'true' if recompute_all else 'customer_id in (select affected.customer_id from affected)' %}

customers as (

    select * from {{ ref('stg_customers') }}
    where {{ recomputed }}

),

login_totals as (

    select * from {{ ref('int_customer_login_totals') }}
    where {{ recomputed }}

),

holdings as (

    select * from {{ ref('stg_customer_products') }}
    where {{ recomputed }}

),

tickets as (

    select * from {{ ref('stg_tickets') }}
    where {{ recomputed }}

),

chosen as (

    select {{ as_of_date }} as as_of_date

),

as_of as (

    select
        as_of_date,
        -- exclusive end of the as-of day in UTC: "the last 90 days" of tickets are [as_of_end - 90 days, as_of_end)
        (as_of_date + 1)::timestamp at time zone 'UTC' as as_of_end

    from chosen

),

-- Login activity without reading the logins: the totals kept per customer (as of the latest data) less the logins
-- after the as-of day (none on a nightly run), and the two windows counted in the customer's login days (UTC days:
-- "the last 30 days" are the days [as_of_date - 29, as_of_date]). Only a customer who logged in after the as-of
-- day (a backfill) has their last login before it looked up, through the trim(customer_id) index.
login_counts as (

    select
        login_totals.customer_id,
        login_totals.last_login_at,
        login_totals.total_logins,
        day_counts.logins_after_as_of,
        day_counts.logins_last_30d,
        day_counts.logins_prior_60d

    from login_totals
    cross join lateral (
        select
            count(*) filter (where login_day > {{ as_of_date }}) as logins_after_as_of,
            count(*) filter (
                where login_day > {{ as_of_date }} - 30 and login_day <= {{ as_of_date }}
            ) as logins_last_30d,
            count(*) filter (
                where login_day > {{ as_of_date }} - 90 and login_day <= {{ as_of_date }} - 30
            ) as logins_prior_60d
        from unnest(login_totals.login_days) as login_day
    ) as day_counts

),

login_activity as (

    select
        customer_id,
        case
            when logins_after_as_of = 0 then last_login_at
            else (
                select max(earlier.login_at) from {{ ref('stg_customer_logins') }} as earlier
                where
                    earlier.customer_id = login_counts.customer_id
                    and earlier.login_at < ({{ as_of_date }} + 1)::timestamp at time zone 'UTC'
            )
        end as last_login_at,
        total_logins - logins_after_as_of as total_logins,
        logins_last_30d,
        logins_prior_60d

    from login_counts

),

holding_activity as (

    select
        holdings.customer_id,
        count(*) filter (
            where holdings.closed_at is null or holdings.closed_at > as_of.as_of_date
        ) as active_products,
        count(*) filter (
            where holdings.closed_at <= as_of.as_of_date and holdings.closed_at > as_of.as_of_date - 90
        ) as products_closed_90d,
        -- revenue at stake: holdings open at any time in the 120 days up to the as-of date
        coalesce(sum(holdings.monthly_revenue) filter (
            where holdings.closed_at is null or holdings.closed_at > as_of.as_of_date - 120
        ), 0) as monthly_revenue

    from holdings
    cross join as_of
    where holdings.opened_at <= as_of.as_of_date
    group by holdings.customer_id

),

ticket_activity as (

    select
        tickets.customer_id,
        count(*) as total_tickets,
        count(*) filter (where tickets.created_at >= as_of.as_of_end - interval '90 days') as tickets_last_90d,
        count(*) filter (
            where tickets.resolved_at is null or tickets.resolved_at >= as_of.as_of_end
        ) as open_tickets,
        count(*) filter (
            where tickets.satisfaction_score <= 2 and tickets.resolved_at < as_of.as_of_end
        ) as unsatisfied_tickets,
        count(*) filter (
            where tickets.satisfaction_score <= 2 and tickets.resolved_at < as_of.as_of_end
            and tickets.resolved_at >= as_of.as_of_end - interval '90 days'
        ) as unsatisfied_tickets_90d

    from tickets
    cross join as_of
    where tickets.created_at < as_of.as_of_end
    group by tickets.customer_id

),

final as (

    select
        customers.customer_id::text as customer_id,

        customers.customer_name::text as customer_name,
        customers.email::text as email,
        customers.phone::text as phone,
        customers.customer_segment::text as customer_segment,
        customers.city::text as customer_city,

        coalesce(login_activity.total_logins, 0)::integer as total_logins,
        coalesce(login_activity.logins_last_30d, 0)::integer as logins_last_30d,
        coalesce(login_activity.logins_prior_60d, 0)::integer as logins_prior_60d,
        coalesce(holding_activity.active_products, 0)::integer as active_products,
        coalesce(holding_activity.products_closed_90d, 0)::integer as products_closed_90d,
        coalesce(ticket_activity.total_tickets, 0)::integer as total_tickets,
        coalesce(ticket_activity.tickets_last_90d, 0)::integer as tickets_last_90d,
        coalesce(ticket_activity.open_tickets, 0)::integer as open_tickets,
        coalesce(ticket_activity.unsatisfied_tickets, 0)::integer as unsatisfied_tickets,
        coalesce(ticket_activity.unsatisfied_tickets_90d, 0)::integer as unsatisfied_tickets_90d,
        coalesce(holding_activity.monthly_revenue, 0)::numeric(12, 2) as monthly_revenue,
        round(coalesce(holding_activity.monthly_revenue, 0) * {{ var('clv_horizon_months', 24) }}, 2)::numeric(14, 2)
            as estimated_clv,

        -- the churn risk score's points that do not move with the date (0–50; the mart adds recency, 0–50):
        -- frequency (0–25): drop of logins in the last 30 days against the prior 60 days' 30-day average
        (
            case
                when coalesce(login_activity.logins_prior_60d, 0) = 0
                    then case when coalesce(login_activity.logins_last_30d, 0) = 0 then 25 else 0 end
                else 25 * greatest(
                    0,
                    1 - coalesce(login_activity.logins_last_30d, 0) / (login_activity.logins_prior_60d / 2.0)
                )
            end
            -- support friction (0–15): 5 per unsatisfied ticket in the last 90 days, 3 per open ticket
            + least(
                15,
                5 * coalesce(ticket_activity.unsatisfied_tickets_90d, 0) + 3 * coalesce(ticket_activity.open_tickets, 0)
            )
            -- product holdings (0–10): none left 10, one 4, two or more 0
            + case coalesce(holding_activity.active_products, 0) when 0 then 10 when 1 then 4 else 0 end
        )::numeric as risk_points_without_recency,

        customers.signup_date::date as signup_date,

        login_activity.last_login_at::timestamptz as last_login_at

    from customers
    left join login_activity on customers.customer_id = login_activity.customer_id
    left join holding_activity on customers.customer_id = holding_activity.customer_id
    left join ticket_activity on customers.customer_id = ticket_activity.customer_id

)

select * from final
