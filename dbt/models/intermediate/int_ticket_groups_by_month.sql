-- The tickets of mart_ticket_analytics summed up per calendar month (UTC) × root cause × ticket category × product
-- category: the counts and sums both root-cause marts add up, and every resolved ticket's resolution hours as a sorted
-- array — a median does not add up across months, and mart_root_causes_by_period's quarters and years take theirs
-- from these arrays (a few MB) instead of reading the tickets of a whole year (~0.5 GB at scale 100) every night.
-- mart_top_root_causes (per month) ranks and apportions these rows.
--
-- Incremental: a build recomputes the months that hold a ticket changed since its last build (macros/
-- changed_tickets.sql) from all of those months' tickets, and replaces them (delete+insert by month). A ticket never
-- changes month (created_at), so a ticket moved to another root cause, category or product leaves no stale group
-- behind. A full refresh gives the same rows.
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
{%- set resolution_hours = 'coalesce(resolution_time_hours, actual_resolution_hours)' %}

with

tickets as (

    select * from {{ ref('mart_ticket_analytics') }}
    {% if is_incremental() %}
        where {{ date_in_periods('created_date', periods_with_changed_tickets('month')) }}
    {% endif %}

),

-- Grouped by the dimensions' keys: a name or severity is one value per key (the ticket mart's joins), taken with
-- min(); sorting ~1M tickets by their names as well cost a third of the build at scale 100 (same rows).
final as (

    select
        created_year::integer as created_year,
        min(created_quarter)::integer as created_quarter,
        created_month::integer as created_month,
        root_cause_id::text as root_cause_id,
        category_id::text as category_id,
        product_category::text as product_category,

        min(coalesce(root_cause_name, 'Undiagnosed'))::text as root_cause_name,
        min(root_cause_severity)::text as root_cause_severity,
        min(category_name)::text as category_name,

        count(*)::bigint as total_tickets,
        (count(*) filter (where is_open))::bigint as open_tickets,
        (count(*) filter (where is_resolved))::bigint as resolved_tickets,
        -- the resolved tickets' resolution hours (the resolution time, else the actual hours), those with a value
        (sum({{ resolution_hours }}) filter (where is_resolved))::numeric as resolution_hours_sum,
        coalesce(
            array_agg({{ resolution_hours }}::double precision order by {{ resolution_hours }})
            filter (where is_resolved and {{ resolution_hours }} is not null),
            '{}'
        )::double precision[] as resolution_hours,
        count(satisfaction_score)::bigint as rated_tickets,
        (count(*) filter (where satisfaction_level = 'satisfied'))::bigint as satisfied_tickets,
        sum(satisfaction_score)::bigint as satisfaction_score_sum,
        (count(*) filter (where is_v12_related))::bigint as v12_related_tickets,
        (count(*) filter (where is_on_v12_app))::bigint as v12_app_tickets,
        (count(*) filter (where channel = 'app'))::bigint as app_tickets,
        (count(*) filter (where channel = 'web'))::bigint as web_tickets,
        (count(*) filter (where channel = 'phone'))::bigint as phone_tickets,
        (count(*) filter (where channel = 'email'))::bigint as email_tickets,
        (count(*) filter (where channel = 'chat'))::bigint as chat_tickets

    from tickets
    group by created_year, created_month, root_cause_id, category_id, product_category

)

select * from final
