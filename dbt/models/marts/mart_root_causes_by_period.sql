-- Root-cause KPIs per calendar quarter and per year (UTC), with the formulas of mart_top_root_causes (which is per
-- month): medians and shares do not add up across months, so the longer periods are aggregated here, once per build,
-- instead of at question time (the MCP tool kpi.top_root_causes reads them) — from int_ticket_groups_by_month's
-- month groups: their counts and sums, and their resolved tickets' hours for the medians.
-- Grain: period_type ('quarter' | 'year') × created_year × period_number (quarter 1–4; 0 for a year) × root cause ×
-- ticket category × product category. pct_of_period is rounded per row (not largest-remainder).
--
-- Incremental: a build recomputes the years that hold a ticket changed since its last build (macros/
-- changed_tickets.sql) — the year rows and all four quarters' — from all of their month groups in one pass (grouping
-- sets: one scan and one sort for both grains, grouped by the dimension keys; the names follow from the keys), and
-- replaces them (delete+insert by period). A full refresh gives the same rows.
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

-- The month groups added up per quarter and per year in one pass (grouping sets). Each month group is read as one
-- row per resolved ticket's hours, after a leading null row (ordinality 1) that alone carries the group's counts:
-- the counts are summed over the leading rows, the median is taken over all the hours (percentile_cont ignores the
-- nulls).
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

        sum(months.total_tickets) filter (where hours.n = 1) as total_tickets,
        sum(months.open_tickets) filter (where hours.n = 1) as open_tickets,
        sum(months.resolved_tickets) filter (where hours.n = 1) as resolved_tickets,
        sum(months.resolution_hours_sum) filter (where hours.n = 1)
        / nullif(sum(cardinality(months.resolution_hours)) filter (where hours.n = 1), 0) as avg_resolution_hours,
        percentile_cont(0.5) within group (order by hours.value) as median_resolution_hours,
        sum(months.rated_tickets) filter (where hours.n = 1) as rated_tickets,
        sum(months.satisfied_tickets) filter (where hours.n = 1) as satisfied_tickets,
        sum(months.v12_related_tickets) filter (where hours.n = 1) as v12_related_tickets,
        sum(months.v12_app_tickets) filter (where hours.n = 1) as v12_app_tickets

    from months
    cross join
        lateral unnest(array_prepend(null::double precision, months.resolution_hours))
        with ordinality as hours (value, n)
    group by grouping sets (
        (
            months.created_year, months.created_quarter, months.root_cause_id, months.category_id,
            months.product_category
        ),
        (months.created_year, months.root_cause_id, months.category_id, months.product_category)
    )

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

    from grouped
    window period as (partition by period_type, created_year, period_number)

)

select * from final
