-- Root-cause KPIs per calendar quarter and per year (UTC), with the formulas of mart_top_root_causes (which is per
-- month): medians and shares do not add up across months, so the longer periods are aggregated here, once per build,
-- instead of at question time (the MCP tool kpi.top_root_causes reads them) — from int_ticket_groups_by_month's
-- month groups: their counts and sums, and their resolved tickets' hours for the medians.
-- Grain: period_type ('quarter' | 'year') × created_year × period_number (quarter 1–4; 0 for a year) × root cause ×
-- ticket category × product category. pct_of_period is rounded per row (not largest-remainder).
--
-- Incremental: a build recomputes the years that hold a ticket changed since its last build (macros/
-- changed_tickets.sql) — the year rows and all four quarters' — from all of their month groups, and replaces them
-- (delete+insert by period). A full refresh gives the same rows.
{{
    config(
        materialized='incremental',
        unique_key=['period_type', 'created_year', 'period_number'],
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

months as (

    select * from {{ ref('int_ticket_groups_by_month') }}
    {% if is_incremental() %}
        where {{ date_in_periods('make_date(created_year, created_month, 1)', periods_with_changed_tickets('year')) }}
    {% endif %}

),

-- The month groups added up per quarter and per year in one pass (grouping sets over the month rows: a few thousand
-- rows, sorted by the dimension keys; the names follow from the keys).
grouped as (

    select
        case when grouping(months.created_quarter) = 0 then 'quarter' else 'year' end as period_type,
        months.created_year,
        case when grouping(months.created_quarter) = 0 then months.created_quarter else 0 end as period_number,
        months.root_cause_id,
        months.category_id,
        months.product_category,
        -- one value per key (the ticket mart joins them by key): taken, not grouped on, to keep the sort narrow
        min(months.root_cause_name) as root_cause_name,
        min(months.root_cause_severity) as root_cause_severity,
        min(months.category_name) as category_name,

        sum(months.total_tickets) as total_tickets,
        sum(months.open_tickets) as open_tickets,
        sum(months.resolved_tickets) as resolved_tickets,
        sum(months.resolution_hours_sum)
        / nullif(sum(cardinality(months.resolution_hours)), 0) as avg_resolution_hours,
        sum(months.rated_tickets) as rated_tickets,
        sum(months.satisfied_tickets) as satisfied_tickets,
        sum(months.v12_related_tickets) as v12_related_tickets,
        sum(months.v12_app_tickets) as v12_app_tickets

    from months
    group by grouping sets (
        (
            months.created_year, months.created_quarter, months.root_cause_id, months.category_id,
            months.product_category
        ),
        (months.created_year, months.root_cause_id, months.category_id, months.product_category)
    )

),

-- Each period row's median over the resolution hours of its own month groups (a few thousand values): one small
-- in-memory sort per row, instead of unnesting the whole year's hours into one sort by the dimension keys (1.5M rows
-- spilled to disk at scale 100: 3.3 s against 1.1 s).
with_medians as (

    select
        grouped.*,
        medians.median_resolution_hours
    from grouped
    cross join lateral (
        select percentile_cont(0.5) within group (order by hours.value) as median_resolution_hours
        from months as period_months
        cross join lateral unnest(period_months.resolution_hours) as hours (value)
        where
            period_months.created_year = grouped.created_year
            and (grouped.period_type = 'year' or period_months.created_quarter = grouped.period_number)
            and period_months.root_cause_id is not distinct from grouped.root_cause_id
            and period_months.category_id is not distinct from grouped.category_id
            and period_months.product_category is not distinct from grouped.product_category
    ) as medians

),

final as (

    select
        root_cause_id::text as root_cause_id,
        category_id::text as category_id,

        period_type::text as period_type,
        root_cause_name::text as root_cause_name,
        root_cause_severity::text as root_cause_severity,
        category_name::text as category_name,
        product_category::text as product_category,

        created_year::integer as created_year,
        period_number::integer as period_number,
        total_tickets::bigint as total_tickets,
        (sum(total_tickets) over period)::bigint as period_tickets,
        round(100.0 * total_tickets / sum(total_tickets) over period, 2)::numeric(5, 2) as pct_of_period,
        open_tickets::bigint as open_tickets,
        round(100.0 * open_tickets / total_tickets, 2)::numeric(5, 2) as pct_open,
        resolved_tickets::bigint as resolved_tickets,
        round(avg_resolution_hours, 2)::numeric(12, 2) as avg_resolution_hours,
        round(median_resolution_hours::numeric, 2)::numeric(12, 2) as median_resolution_hours,
        rated_tickets::bigint as rated_tickets,
        round(100.0 * satisfied_tickets / nullif(rated_tickets, 0), 2)::numeric(5, 2) as satisfaction_rate,
        v12_related_tickets::bigint as v12_related_tickets,
        round(100.0 * v12_related_tickets / total_tickets, 2)::numeric(5, 2) as pct_v12_related,
        v12_app_tickets::bigint as v12_app_tickets,
        round(100.0 * v12_app_tickets / total_tickets, 2)::numeric(5, 2) as pct_v12_app

    from with_medians
    window period as (partition by period_type, created_year, period_number)

)

select * from final
