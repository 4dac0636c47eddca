-- Per customer, as of the churn as-of date: contact and segment, holdings and tickets — every column of
-- mart_churned_customers that does not move by itself as days pass and does not come from the logins. The mart (a
-- view) adds the login side from int_customer_login_totals (every login's UTC day and the latest login, as of the
-- latest data) and what moves with the date: the last login as of the date, days since it, the logins in the last 30 /
-- prior 60 days and in all (counted in the login days), the flags, the score and its level, from these columns and
-- the as-of date this model's last build recorded (audit.build_watermarks.as_of_date). Logins never change a row
-- here: a night's logins (most of the customers a night touches) are merged into the login totals alone.
--
-- Incremental, merged on customer_id: a build recomputes only the customers whose row can differ from the last
-- build's —
--   * a load committed since then wrote their customer row, a holding or a ticket of theirs (the load log's committed
--     sequence, macros/incremental_watermark.sql);
--   * the as-of date moved (forwards or backwards, a backfill) and one of their tickets or holdings crosses a window
--     edge between the two dates: a ticket created or resolved across the as-of day's end or 90 days before it; a
--     holding opened, or closed across the as-of date, 90 or 120 days before it.
-- Everyone else's columns are the same as of either date. Recomputed rows get the build's `_merged_at`: it marks the
-- rows the churn view's nightly data tests check (in the others only a login can have moved, which the login staging
-- tests checked when it landed). A full refresh gives the same rows. Customers who signed up after the as-of date are
-- kept (the mart leaves them out). A source that moves a ticket or a holding to another customer, or rewrites rows
-- behind the extract, needs a --full-refresh (the old customer is not known).
{{
    config(
        materialized='incremental',
        unique_key='customer_id',
        incremental_strategy='merge',
        on_schema_change='fail',
        post_hook=[
            "{{ record_merged_load_seq(as_of_date=churn_as_of_date(ref('int_customer_login_totals'))) }}",
            "{{ ensure_index(['customer_id'], unique=true) }}",
            "{{ ensure_index(['estimated_clv']) }}",
            "{{ ensure_index(['_merged_at']) }}",
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
        {% if moved %}
            -- a ticket or a holding crossing a window edge
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

{#- Per customer, as of the date: their holdings' and tickets' counts. -#}
{%- set holding_counts %}
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
{%- endset %}
{%- set ticket_counts %}
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
{%- endset %}

{% if recompute_all %}

    -- every customer: set-based
    holding_activity as (

        select
            holdings.customer_id,
            {{- holding_counts }}

        from {{ ref('stg_customer_products') }} as holdings
        cross join as_of
        where holdings.opened_at <= as_of.as_of_date
        group by holdings.customer_id

    ),

    ticket_activity as (

        select
            tickets.customer_id,
            {{- ticket_counts }}

        from {{ ref('stg_tickets') }} as tickets
        cross join as_of
        where tickets.created_at < as_of.as_of_end
        group by tickets.customer_id

    ),

{% endif %}

recomputed_rows as (

    select
        customers.customer_id::text as customer_id,

        customers.customer_name::text as customer_name,
        customers.email::text as email,
        customers.phone::text as phone,
        customers.customer_segment::text as customer_segment,
        customers.city::text as customer_city,

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

        -- the churn risk score's points that do not move with the date (0–25; the mart adds recency, 0–50, and
        -- login frequency, 0–25): support friction (0–15): 5 per unsatisfied ticket in the last 90 days, 3 per open
        -- ticket; product holdings (0–10): none left 10, one 4, two or more 0
        (
            least(
                15,
                5 * coalesce(ticket_activity.unsatisfied_tickets_90d, 0) + 3 * coalesce(ticket_activity.open_tickets, 0)
            )
            + case coalesce(holding_activity.active_products, 0) when 0 then 10 when 1 then 4 else 0 end
        )::integer as support_and_holding_points,

        customers.signup_date::date as signup_date,

        -- the build that recomputed the row (its transaction's time, which its post-hook records as the watermark's
        -- built_at): the view's data tests check these customers' rows every night (macros/tests_on_new_rows.sql)
        now() as _merged_at

    {% if recompute_all %}

        from {{ ref('stg_customers') }} as customers
        left join holding_activity on customers.customer_id = holding_activity.customer_id
        left join ticket_activity on customers.customer_id = ticket_activity.customer_id

    {% else %}

        -- The affected customers only, one at a time (LATERAL), each relation read through its index on
        -- trim(customer_id) (include/warehouse/bootstrap.py, KEY_LOOKUP_INDEXES).
        -- Joined as sets, the planner, which cannot tell how many customers are affected, read, sorted or hashed
        -- every row of each table, or rescanned one set per customer; `offset 0` keeps a LATERAL subquery from
        -- being flattened into such a join.
        from affected
        cross join as_of
        cross join lateral (
            select * from {{ ref('stg_customers') }} as keyed
            where keyed.customer_id = affected.customer_id
            offset 0
        ) as customers
        cross join lateral (
            select
                {{- holding_counts }}
            from {{ ref('stg_customer_products') }} as holdings
            where holdings.customer_id = affected.customer_id and holdings.opened_at <= as_of.as_of_date
        ) as holding_activity
        cross join lateral (
            select
                {{- ticket_counts }}
            from {{ ref('stg_tickets') }} as tickets
            where tickets.customer_id = affected.customer_id and tickets.created_at < as_of.as_of_end
        ) as ticket_activity

    {% endif %}

),

final as (

    select * from recomputed_rows

)

select * from final
{% if not recompute_all -%}
    -- in key order, so that the merge walks the table's key index and pages in order (at scale 100 the activity's
    -- node took 5.5 / 6.2 s unsorted, 4.9–5.7 s sorted, in the same session)
    order by customer_id
{%- endif %}
