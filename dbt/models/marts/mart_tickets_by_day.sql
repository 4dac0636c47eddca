-- Tickets per calendar day (UTC) and product type, with the v1.2 counts: what the tickets-per-week and v1.2 questions
-- need (MCP tool kpi.v12_impact), at a size independent of the ticket volume. resolution_hours_v12 /
-- rated_resolutions_v12 is the spec's query 2 mean (avg(resolution_time_hours) over the v1.2-related tickets).
--
-- Incremental: a build recomputes the days that hold a ticket changed since its last build (macros/
-- changed_tickets.sql) and replaces them (delete+insert by day). A full refresh gives the same rows.
{{
    config(
        materialized='incremental',
        unique_key='created_date',
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
        where {{ date_in_periods('created_date', periods_with_changed_tickets('day')) }}
    {% endif %}

),

final as (

    select
        product_type::text as product_type,

        count(*)::bigint as tickets,
        (count(*) filter (where is_v12_related))::bigint as v12_related_tickets,
        (count(*) filter (where is_on_v12_app))::bigint as v12_app_tickets,
        (count(resolution_time_hours) filter (where is_v12_related))::bigint as rated_resolutions_v12,
        (sum(resolution_time_hours) filter (where is_v12_related))::numeric(18, 2) as resolution_hours_v12,

        created_date::date as created_date

    from tickets
    group by created_date, product_type

)

select * from final
