-- Root-cause KPIs per calendar quarter and per year (UTC), with the formulas of mart_top_root_causes (which is per
-- month): medians and shares do not add up across months, so the longer periods are aggregated from the tickets
-- here, once per build, instead of at question time (the MCP tool kpi.top_root_causes reads them).
-- Grain: period_type ('quarter' | 'year') × created_year × period_number (quarter 1–4; 0 for a year) × root cause ×
-- ticket category × product category. pct_of_period is rounded per row (not largest-remainder).
--
-- Incremental: a build recomputes the years that hold a ticket changed since its last build (macros/
-- changed_tickets.sql) — the year rows and all four quarters' — from all of their tickets in one pass (grouping sets:
-- one scan and one sort for both grains, grouped by the dimension keys; the names follow from the keys), and replaces
-- them (delete+insert by period). A full refresh gives the same rows.
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

tickets as (

    select * from {{ ref('mart_ticket_analytics') }}
    {% if is_incremental() %}
        where {{ date_in_periods('created_date', periods_with_changed_tickets('year')) }}
    {% endif %}

),

grouped as (

    select
        case when grouping(created_quarter) = 0 then 'quarter' else 'year' end as period_type,
        created_year,
        case when grouping(created_quarter) = 0 then created_quarter else 0 end as period_number,
        root_cause_id,
        category_id,
        product_category,
        -- one value per key (the ticket mart joins them by key): taken, not grouped on, to keep the sort narrow
        min(coalesce(root_cause_name, 'Undiagnosed')) as root_cause_name,
        min(root_cause_severity) as root_cause_severity,
        min(category_name) as category_name,

        count(*) as total_tickets,
        count(*) filter (where is_open) as open_tickets,
        count(*) filter (where is_resolved) as resolved_tickets,
        avg(coalesce(resolution_time_hours, actual_resolution_hours)) filter (where is_resolved)
            as avg_resolution_hours,
        percentile_cont(0.5) within group (
            order by coalesce(resolution_time_hours, actual_resolution_hours)
        ) filter (where is_resolved) as median_resolution_hours,
        count(satisfaction_score) as rated_tickets,
        count(*) filter (where satisfaction_level = 'satisfied') as satisfied_tickets,
        count(*) filter (where is_v12_related) as v12_related_tickets,
        count(*) filter (where is_on_v12_app) as v12_app_tickets

    from tickets
    group by grouping sets (
        (created_year, created_quarter, root_cause_id, category_id, product_category),
        (created_year, root_cause_id, category_id, product_category)
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
