-- Root-cause KPIs per calendar month (UTC): grain = created year, quarter, month × root cause × ticket category ×
-- product category. Tickets without a diagnosed root cause form their own 'Undiagnosed' group, so every ticket is
-- counted and the pct_of_period of a month adds up to exactly 100.00 (largest-remainder rounding, see the yml).
--
-- Incremental: a build recomputes the months that hold a ticket changed since its last build (macros/
-- changed_tickets.sql) from those months' groups in int_ticket_groups_by_month, and replaces them (delete+insert by
-- month). A full refresh gives the same rows.
{{
    config(
        materialized='incremental',
        unique_key=['created_year', 'created_month'],
        incremental_strategy='delete+insert',
        on_schema_change='fail',
        post_hook=["{{ record_merged_load_seq() }}"],
    )
}}
-- depends_on: {{ source('audit', 'build_watermarks') }}
-- depends_on: {{ ref('stg_committed_loads') }}
-- depends_on: {{ ref('stg_tickets') }}
-- depends_on: {{ ref('stg_products') }}
-- depends_on: {{ ref('stg_ticket_categories') }}
-- depends_on: {{ ref('stg_root_causes') }}

with

-- the months' groups (int_ticket_groups_by_month: counts and sums per month × root cause × category × product
-- category, and each group's sorted resolution hours)
grouped as (

    select
        *,
        resolution_hours_sum / nullif(cardinality(resolution_hours), 0) as avg_resolution_hours,
        {{ median_of_sorted('resolution_hours') }} as median_resolution_hours,
        satisfaction_score_sum::numeric / nullif(rated_tickets, 0) as avg_satisfaction_score

    from {{ ref('int_ticket_groups_by_month') }}
    {% if is_incremental() %}
        where {{ date_in_periods('make_date(created_year, created_month, 1)', periods_with_changed_tickets('month')) }}
    {% endif %}

),

-- Share of the month in hundredths of a percent: floor every group's exact share, then hand the hundredths
-- the floors lost to the groups with the largest remainders (ties by size and name), so a month sums to 10000.
apportioned as (

    select
        *,
        sum(total_tickets) over period as period_tickets,
        floor(total_tickets * 10000.0 / sum(total_tickets) over period) as floor_units,
        (
            total_tickets * 10000.0 / sum(total_tickets) over period
            - floor(total_tickets * 10000.0 / sum(total_tickets) over period)
        ) as remainder_units

    from grouped
    window period as (partition by created_year, created_month)

),

ranked as (

    select
        *,
        10000 - sum(floor_units) over period as leftover_units,
        row_number() over (
            partition by created_year, created_month
            order by
                remainder_units desc, total_tickets desc, root_cause_name asc, category_id asc, product_category asc
        ) as remainder_rank,
        row_number() over (
            partition by created_year, created_month
            order by total_tickets desc, root_cause_name asc, category_id asc, product_category asc
        ) as rank_in_period

    from apportioned
    window period as (partition by created_year, created_month)

),

final as (

    select
        root_cause_id::text as root_cause_id,
        category_id::text as category_id,

        root_cause_name::text as root_cause_name,
        root_cause_severity::text as root_cause_severity,
        category_name::text as category_name,
        product_category::text as product_category,

        created_year::integer as created_year,
        created_quarter::integer as created_quarter,
        created_month::integer as created_month,
        rank_in_period::integer as rank_in_period,
        total_tickets::bigint as total_tickets,
        period_tickets::bigint as period_tickets,
        ((floor_units + case when remainder_rank <= leftover_units then 1 else 0 end) / 100.0)::numeric(5, 2)
            as pct_of_period,
        open_tickets::bigint as open_tickets,
        round(100.0 * open_tickets / total_tickets, 2)::numeric(5, 2) as pct_open,
        resolved_tickets::bigint as resolved_tickets,
        round(avg_resolution_hours, 2)::numeric(12, 2) as avg_resolution_hours,
        round(median_resolution_hours::numeric, 2)::numeric(12, 2) as median_resolution_hours,
        rated_tickets::bigint as rated_tickets,
        round(100.0 * satisfied_tickets / nullif(rated_tickets, 0), 2)::numeric(5, 2) as satisfaction_rate,
        round(avg_satisfaction_score, 2)::numeric(4, 2) as avg_satisfaction_score,
        v12_related_tickets::bigint as v12_related_tickets,
        round(100.0 * v12_related_tickets / total_tickets, 2)::numeric(5, 2) as pct_v12_related,
        v12_app_tickets::bigint as v12_app_tickets,
        round(100.0 * v12_app_tickets / total_tickets, 2)::numeric(5, 2) as pct_v12_app,
        app_tickets::bigint as app_tickets,
        web_tickets::bigint as web_tickets,
        phone_tickets::bigint as phone_tickets,
        email_tickets::bigint as email_tickets,
        chat_tickets::bigint as chat_tickets,

        make_date(created_year, created_month, 1) as period_start_date

    from ranked

)

select * from final
