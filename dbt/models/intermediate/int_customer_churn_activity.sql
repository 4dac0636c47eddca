-- Per customer, as of the churn as-of date: contact and segment, the last login, holdings and tickets — every column
-- of mart_churned_customers that does not move by itself as days pass —, and a copy of the customer's login days
-- (int_customer_login_totals.login_days, every login's UTC day, as of the latest data). The mart (a view) adds what
-- moves with the date: days since the last login, the logins in the last 30 / prior 60 days and the total (counted
-- in the login days as of the date), the flags, the score and its level, from these columns and the as-of date this
-- model's last build recorded (audit.build_watermarks.as_of_date). The copy spares every whole read of the view (the
-- churn lists and the summary, each night) a join of every customer with the login totals.
--
-- Incremental, merged on customer_id: a build recomputes only the customers whose row can differ from the last
-- build's —
--   * a load committed since then wrote their customer row, a holding, a ticket or a login of theirs (the load log's
--     committed sequence, macros/incremental_watermark.sql);
--   * the as-of date moved (forwards or backwards, a backfill) and one of their events crosses a window edge between
--     the two dates: a login between the two as-of days (their last login as of the date); a ticket created or
--     resolved across the as-of day's end or 90 days before it; a holding opened, or closed across the as-of date,
--     90 or 120 days before it.
-- Everyone else's columns are the same as of either date. A customer whose only reason is a login — a new one from a
-- load that only appended (audit.committed_loads.appended_only), or one between the two as-of days when the date moved
-- forwards — can differ only in the last login as of the date, which such logins can only move later, and in the login
-- days: their stored row is kept with last_login_at = the later of the stored one and their latest such login on or
-- before the as-of day and the login totals' login days (the usual night's customers: no lookup of their customer row,
-- holdings and tickets). Only rows where either moves are merged, and they keep their `_merged_at`: it marks the rows a
-- build recomputed, the ones the churn view's nightly data tests check (only an input of the view moved in the others:
-- a login, which the login staging tests checked when it landed). A full refresh gives the same rows. Customers who
-- signed up after the as-of date are kept (the mart leaves them out). A source that moves a ticket or a holding to
-- another customer, or rewrites rows behind the extract, needs a --full-refresh (the old customer is not known).
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
        {#- logins move a kept row's last login only later when the date stays or moves forwards (ISO dates) -#}
        {%- set logins_add = dates[0] >= dates[1] %}
        {#- a login on a day between the two as-of dates, (low, high] -#}
        {%- set login_between_the_dates -%}
            login_at >= (date '{{ low }}' + 1)::timestamp at time zone 'UTC'
                    and login_at < (date '{{ high }}' + 1)::timestamp at time zone 'UTC'
        {%- endset %}
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
        where _batch_id = any({{ batches_loaded_since_last_build('customer_logins', appended=none if not logins_add
                                                                  else false) }})
        {% if moved %}
            {% if not logins_add %}
                -- events crossing a window edge between the two as-of dates (low, high]: a login on a day between
                -- them (the last login as of the date; the mart counts the login windows in the login days itself)
                union
                select customer_id from {{ ref('stg_customer_logins') }}
                where
                    {{ login_between_the_dates }}
            {% endif %}
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

{% if not recompute_all and logins_add %}

    -- the customers whose only reason is a login (see the header): their latest such login on or before the as-of
    -- day — the new logins of appending loads{{ ' and the logins between the two as-of days' if moved }}
    login_news as (

        select
            logins.customer_id,
            max(logins.login_at) filter (where logins.login_at < as_of.as_of_end) as latest_login_at

        from (
            select customer_id, login_at from {{ ref('stg_customer_logins') }}
            where _batch_id = any({{ batches_loaded_since_last_build('customer_logins', appended=true) }})
            {% if moved %}
                union all
                select customer_id, login_at from {{ ref('stg_customer_logins') }}
                where
                    {{ login_between_the_dates }}
            {% endif %}
        ) as logins
        cross join as_of
        where not exists (select from affected where affected.customer_id = logins.customer_id)
        group by logins.customer_id

    ),

    -- their stored rows, the last login moved and the login days copied again; rows neither changes are left alone
    login_moved_rows as (

        select
            stored.customer_id,
            stored.customer_name,
            stored.email,
            stored.phone,
            stored.customer_segment,
            stored.customer_city,
            stored.active_products,
            stored.products_closed_90d,
            stored.total_tickets,
            stored.tickets_last_90d,
            stored.open_tickets,
            stored.unsatisfied_tickets,
            stored.unsatisfied_tickets_90d,
            stored.monthly_revenue,
            stored.estimated_clv,
            stored.support_and_holding_points,
            stored.signup_date,
            greatest(stored.last_login_at, login_news.latest_login_at) as last_login_at,
            login_totals.login_days,
            stored._merged_at

        from login_news
        inner join {{ this }} as stored on login_news.customer_id = stored.customer_id
        left join {{ ref('int_customer_login_totals') }} as login_totals
            on login_news.customer_id = login_totals.customer_id
        where
            greatest(stored.last_login_at, login_news.latest_login_at) is distinct from stored.last_login_at
            or login_totals.login_days is distinct from stored.login_days

    ),

{% endif %}

{#- Per customer, as of the date: the last login on or before the as-of day, without reading the logins — the one kept
    in int_customer_login_totals (as of the latest data) unless it is after the as-of day (a backfill); only then is
    it looked up, through the trim(customer_id) index —, the login days kept there, and their holdings' and tickets'
    counts. -#}
{%- set last_login_as_of %}
        login_totals.login_days,
        case
            when login_totals.last_login_date <= as_of.as_of_date then login_totals.last_login_at
            else (
                select max(earlier.login_at) from {{ ref('stg_customer_logins') }} as earlier
                where earlier.customer_id = login_totals.customer_id and earlier.login_at < as_of.as_of_end
            )
        end as last_login_at
{%- endset %}
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
    login_activity as (

        select
            login_totals.customer_id,
            {{- last_login_as_of }}

        from {{ ref('int_customer_login_totals') }} as login_totals
        cross join as_of

    ),

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

        login_activity.last_login_at::timestamptz as last_login_at,
        login_activity.login_days::date[] as login_days,

        -- the build that recomputed the row (its transaction's time, which its post-hook records as the watermark's
        -- built_at): the view's data tests check these customers' rows every night (macros/tests_on_new_rows.sql)
        now() as _merged_at

    {% if recompute_all %}

        from {{ ref('stg_customers') }} as customers
        left join login_activity on customers.customer_id = login_activity.customer_id
        left join holding_activity on customers.customer_id = holding_activity.customer_id
        left join ticket_activity on customers.customer_id = ticket_activity.customer_id

    {% else %}

        -- The affected customers only, one at a time (LATERAL), each relation read through its index on
        -- trim(customer_id) (include/warehouse/bootstrap.py, KEY_LOOKUP_INDEXES; int_customer_login_totals' key).
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
        left join lateral (
            select
                {{- last_login_as_of }}
            from {{ ref('int_customer_login_totals') }} as login_totals
            where login_totals.customer_id = affected.customer_id
            offset 0
        ) as login_activity on true
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
    {% if not recompute_all and logins_add %}
        union all
        select * from login_moved_rows
    {% endif %}

)

select * from final
{% if not recompute_all -%}
    -- in key order, so that the merge walks the table's key index and pages in order (at scale 100 the activity's
    -- node took 5.5 / 6.2 s unsorted, 4.9–5.7 s sorted, in the same session)
    order by customer_id
{%- endif %}
