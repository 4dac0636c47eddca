-- One row per customer who had signed up by the as-of date, with activity, churn flags, a 0–100 risk score and CLV.
-- Everything is evaluated as of var('as_of_date') (default: the latest login date in the data); logins, tickets and
-- holdings after that date are ignored, so a rerun for the same date gives the same answer. Rules, formula and
-- thresholds are documented in _marts__models.yml.
{#- a literal date when one is given (the nightly run): the per-day counts are then read by their BRIN index -#}
{%- set as_of_date = churn_as_of_date(ref('int_customer_login_totals')) %}

with

customers as (

    select * from {{ ref('stg_customers') }}

),

login_totals as (

    select * from {{ ref('int_customer_login_totals') }}

),

holdings as (

    select * from {{ ref('stg_customer_products') }}

),

tickets as (

    select * from {{ ref('stg_tickets') }}

),

chosen as (

    select {{ as_of_date }} as as_of_date

),

as_of as (

    select
        as_of_date,
        -- exclusive end of the as-of day in UTC: "the last 30 days" are [as_of_end - 30 days, as_of_end)
        (as_of_date + 1)::timestamp at time zone 'UTC' as as_of_end

    from chosen

),

-- Login activity from the per-customer-day counts, never from every login: the totals kept per customer (as of the
-- latest data) less the days after the as-of date (none on a nightly run), and the two windows from the last 90 days.
-- The UTC day boundaries make "the last 30 days" the days [as_of_date - 29, as_of_date].
days_after_as_of as (

    select
        customer_id,
        sum(logins) as logins

    from {{ ref('int_customer_login_days') }}
    where login_date > {{ as_of_date }}
    group by customer_id

),

login_windows as (

    select
        customer_id,
        sum(logins) filter (where login_date > {{ as_of_date }} - 30) as logins_last_30d,
        sum(logins) filter (where login_date <= {{ as_of_date }} - 30) as logins_prior_60d

    from {{ ref('int_customer_login_days') }}
    where login_date > {{ as_of_date }} - 90 and login_date <= {{ as_of_date }}
    group by customer_id

),

login_activity as (

    select
        login_totals.customer_id,
        case
            when days_after_as_of.customer_id is null then login_totals.last_login_at
            else (
                select max(earlier.last_login_at) from {{ ref('int_customer_login_days') }} as earlier
                where earlier.customer_id = login_totals.customer_id and earlier.login_date <= {{ as_of_date }}
            )
        end as last_login_at,
        login_totals.total_logins - coalesce(days_after_as_of.logins, 0) as total_logins,
        coalesce(login_windows.logins_last_30d, 0) as logins_last_30d,
        coalesce(login_windows.logins_prior_60d, 0) as logins_prior_60d

    from login_totals
    left join days_after_as_of on login_totals.customer_id = days_after_as_of.customer_id
    left join login_windows on login_totals.customer_id = login_windows.customer_id

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

joined as (

    select
        customers.customer_id,
        customers.customer_name,
        customers.email,
        customers.phone,
        customers.customer_segment,
        customers.city as customer_city,
        customers.signup_date,
        as_of.as_of_date,
        login_activity.last_login_at,
        (login_activity.last_login_at at time zone 'UTC')::date as last_login_date,
        coalesce(login_activity.total_logins, 0) as total_logins,
        coalesce(login_activity.logins_last_30d, 0) as logins_last_30d,
        coalesce(login_activity.logins_prior_60d, 0) as logins_prior_60d,
        coalesce(holding_activity.active_products, 0) as active_products,
        coalesce(holding_activity.products_closed_90d, 0) as products_closed_90d,
        coalesce(holding_activity.monthly_revenue, 0) as monthly_revenue,
        coalesce(ticket_activity.total_tickets, 0) as total_tickets,
        coalesce(ticket_activity.tickets_last_90d, 0) as tickets_last_90d,
        coalesce(ticket_activity.open_tickets, 0) as open_tickets,
        coalesce(ticket_activity.unsatisfied_tickets, 0) as unsatisfied_tickets,
        coalesce(ticket_activity.unsatisfied_tickets_90d, 0) as unsatisfied_tickets_90d

    from customers
    cross join as_of
    left join login_activity on customers.customer_id = login_activity.customer_id
    left join holding_activity on customers.customer_id = holding_activity.customer_id
    left join ticket_activity on customers.customer_id = ticket_activity.customer_id
    where customers.signup_date <= as_of.as_of_date

),

scored as (

    select
        *,
        as_of_date - last_login_date as days_since_last_login,
        -- recency (0–50): days without a login (since sign-up for customers who never logged in), full at 60
        least(as_of_date - coalesce(last_login_date, signup_date), 60) * 50.0 / 60
        -- frequency (0–25): drop of logins in the last 30 days against the prior 60 days' 30-day average
        + case
            when logins_prior_60d = 0 then case when logins_last_30d = 0 then 25 else 0 end
            else 25 * greatest(0, 1 - logins_last_30d / (logins_prior_60d / 2.0))
        end
        -- support friction (0–15): 5 per unsatisfied ticket in the last 90 days, 3 per open ticket
        + least(15, 5 * unsatisfied_tickets_90d + 3 * open_tickets)
        -- product holdings (0–10): none left 10, one 4, two or more 0
        + case when active_products = 0 then 10 when active_products = 1 then 4 else 0 end
            as raw_score

    from joined

),

final as (

    select
        customer_id::text as customer_id,

        customer_name::text as customer_name,
        email::text as email,
        phone::text as phone,
        customer_segment::text as customer_segment,
        customer_city::text as customer_city,
        {{ churn_risk_level('least(100, greatest(0, round(raw_score)))') }}::text as churn_risk_level,

        days_since_last_login::integer as days_since_last_login,
        total_logins::integer as total_logins,
        logins_last_30d::integer as logins_last_30d,
        logins_prior_60d::integer as logins_prior_60d,
        active_products::integer as active_products,
        products_closed_90d::integer as products_closed_90d,
        total_tickets::integer as total_tickets,
        tickets_last_90d::integer as tickets_last_90d,
        open_tickets::integer as open_tickets,
        unsatisfied_tickets::integer as unsatisfied_tickets,
        unsatisfied_tickets_90d::integer as unsatisfied_tickets_90d,
        least(100, greatest(0, round(raw_score)))::integer as churn_risk_score,
        monthly_revenue::numeric(12, 2) as monthly_revenue,
        round(monthly_revenue * {{ var('clv_horizon_months', 24) }}, 2)::numeric(14, 2) as estimated_clv,

        (last_login_at is not null)::boolean as has_logged_in,
        coalesce(days_since_last_login between 30 and 59, false)::boolean as is_churned_30d,
        coalesce(days_since_last_login between 30 and 119, false)::boolean as is_churned_90d,

        as_of_date::date as as_of_date,
        signup_date::date as signup_date,
        last_login_date::date as last_login_date,

        last_login_at::timestamptz as last_login_at

    from scored

)

select * from final
