-- The tickets of mart_ticket_analytics summed up per calendar month (UTC) × root cause × ticket category × product
-- category: the counts and sums both root-cause marts add up, and every resolved ticket's resolution hours as a sorted
-- array — a median does not add up across months, and mart_root_causes_by_period's quarters and years take theirs
-- from these arrays (a few MB) instead of reading the tickets of a whole year (~0.5 GB at scale 100) every night.
-- mart_top_root_causes (per month) ranks and apportions these rows.
--
-- Incremental: a build replaces the months that hold a ticket changed since its last build (macros/
-- changed_tickets.sql; delete+insert by month), but aggregates again only the groups that can have changed: those of
-- the changed tickets, and those whose stored ticket count is no longer the month's count of that group (a changed
-- ticket moved out to another root cause, category or product: its old group is not known any more, its count
-- is). The months' other groups are carried over from the table as stored. A night's late updates touch most months
-- with a few tickets each: counting a month's tickets per group is a hash aggregate, where aggregating them again
-- sorted them all (scale 100: ~1.4M tickets spilled to disk every night). A ticket never changes month (created_at).
-- A full refresh gives the same rows.
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
{#- a group's key as one text value — a row's text form: no two groups share one (NULL is empty, '' is quoted) —
    for the literal lists below -#}
{%- set group_key = "row(created_year::integer, created_month::integer, root_cause_id::text, category_id::text,"
    ~ " product_category::text)::text" %}

with

{% if is_incremental() %}
    {%- set months = periods_with_changed_tickets('month') %}
    {%- set in_months = date_in_periods('created_date', months) %}
    {%- set stored_in_months = date_in_periods('make_date(created_year, created_month, 1)', months) %}
    {#- The groups to aggregate again, looked up when the model runs and written into its SQL as literals (hashed
        by PostgreSQL: a join with a subquery here could be planned as a nested loop over ~1M tickets). -#}
    {%- set recomputed_groups = [] %}
    {%- if execute and months %}
        {%- set query -%}
            with
            -- the groups of the tickets changed since the last build, as they are now
            changed as (
                select distinct {{ group_key }} as group_key
                from {{ ref('mart_ticket_analytics') }}
                where ticket_id in (
                    select ticket_id from {{ ref('stg_tickets') }}
                    where {{ changed_tickets_condition(dimensions=('products', 'ticket_categories', 'root_causes')) }}
                )
            ),
            -- the months' tickets counted per group now (grouped by the columns, the key made once per group: made
            -- for every ticket, it took a third longer)
            counted as (
                select {{ group_key }} as group_key, total_tickets
                from (
                    select created_year, created_month, root_cause_id, category_id, product_category,
                        count(*) as total_tickets
                    from {{ ref('mart_ticket_analytics') }}
                    where {{ in_months }}
                    group by created_year, created_month, root_cause_id, category_id, product_category
                ) as month_groups
            ),
            stored as (
                select {{ group_key }} as group_key, total_tickets
                from {{ this }}
                where {{ stored_in_months }}
            )
            select group_key from changed
            union
            -- stored groups that lost a ticket (or all of them)
            select stored.group_key from stored left join counted using (group_key)
            where counted.total_tickets is distinct from stored.total_tickets
            order by 1
        {%- endset %}
        {%- set recomputed_groups = run_query(query).columns[0].values() | list %}
    {%- endif %}
    {%- set recomputed = group_key ~ ' = any(' ~ text_array(recomputed_groups) ~ ')' %}

    tickets as (

        select * from {{ ref('mart_ticket_analytics') }}
        where
            {{ in_months }}
            and {{ recomputed }}

    ),

    -- the months' other groups, carried over as stored
    kept_groups as (

        select * from {{ this }}
        where
            {{ stored_in_months }}
            and not {{ recomputed }}

    ),

{% else %}

    tickets as (

        select * from {{ ref('mart_ticket_analytics') }}

    ),

{% endif %}

-- Grouped by the dimensions' keys: a name or severity is one value per key (the ticket mart's joins), taken with
-- min(); sorting ~1M tickets by their names as well cost a third of the build at scale 100 (same rows).
aggregated as (

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

),

final as (

    select * from aggregated
    {% if is_incremental() %}
    union all
    select * from kept_groups
    {% endif %}

)

select * from final
