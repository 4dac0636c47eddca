-- One row per ticket with every dimension joined: customer, product, category, root cause and the calendar.
-- Calendar parts are taken in UTC. is_v12_related: the ticket's root cause has related_release = 'v1.2'
-- (see _marts__models.yml for why app_version alone is not used).
--
-- Incremental, merged on ticket_id: a build merges the tickets whose ticket row or customer row a load wrote since
-- the model's last build — late updates to old tickets and a customer changing segment included — and those whose
-- product, category or root cause a load rewrote with a value this mart shows (macros/changed_tickets.sql), by the
-- load log's committed sequence (stg_committed_loads, macros/incremental_watermark.sql),
-- not by `_loaded_at`: a load that commits late still gets a number above everything merged before. A full refresh
-- gives the same rows. Source rows are never deleted; after emptying source tables, build with --full-refresh.
-- Indexed on ticket_id (unique: the merge looks each merged ticket up by it, where it hashed the whole mart, and one
-- row per ticket holds for every row while the key tests check the night's tickets), on created_date (the period
-- marts re-read the tickets of the periods a night touched) and on product_id, category_id and root_cause_id (does a
-- rewritten product, category or root cause have tickets here, and do they show another value of it).
{{
    config(
        materialized='incremental',
        unique_key='ticket_id',
        incremental_strategy='merge',
        on_schema_change='fail',
        post_hook=[
            "{{ record_merged_load_seq() }}",
            "{{ ensure_index(['ticket_id'], unique=true) }}",
            "{{ ensure_index(['created_date']) }}",
            "{{ ensure_index(['product_id']) }}",
            "{{ ensure_index(['category_id']) }}",
            "{{ ensure_index(['root_cause_id']) }}",
        ],
    )
}}
-- depends_on: {{ source('audit', 'build_watermarks') }}
-- depends_on: {{ ref('stg_committed_loads') }}

with

customers as (

    select * from {{ ref('stg_customers') }}

),

products as (

    select * from {{ ref('stg_products') }}

),

categories as (

    select * from {{ ref('stg_ticket_categories') }}

),

root_causes as (

    select * from {{ ref('stg_root_causes') }}

),

tickets as (

    select * from {{ ref('stg_tickets') }}
    {% if is_incremental() %}
        -- the tickets the loads committed since this model's last build wrote, and those whose customer, product,
        -- category or root cause they rewrote (macros/changed_tickets.sql)
        where {{ changed_tickets_condition(visible_change=true) }}
    {% endif %}

),

-- the columns taken from the product, category and root cause are listed in macros/changed_tickets.sql (`carried`):
-- a night re-merges a dimension's tickets only when one of them changed
joined as (

    select
        tickets.*,
        customers.customer_segment,
        customers.city as customer_city,
        products.product_name,
        products.product_category,
        products.product_type,
        categories.category_name,
        root_causes.root_cause_name,
        root_causes.severity as root_cause_severity,
        root_causes.related_release as root_cause_release,
        coalesce(root_causes.related_release = 'v1.2', false) as is_v12_related,
        tickets.created_at at time zone 'UTC' as created_at_utc

    from tickets
    left join customers on tickets.customer_id = customers.customer_id
    left join products on tickets.product_id = products.product_id
    left join categories on tickets.category_id = categories.category_id
    left join root_causes on tickets.root_cause_id = root_causes.root_cause_id

),

final as (

    select
        ticket_id::text as ticket_id,
        customer_id::text as customer_id,
        product_id::text as product_id,
        category_id::text as category_id,
        root_cause_id::text as root_cause_id,

        customer_segment::text as customer_segment,
        customer_city::text as customer_city,
        product_name::text as product_name,
        product_category::text as product_category,
        product_type::text as product_type,
        category_name::text as category_name,
        root_cause_name::text as root_cause_name,
        root_cause_severity::text as root_cause_severity,
        root_cause_release::text as root_cause_release,
        channel::text as channel,
        priority::text as priority,
        status::text as status,
        subject::text as subject,
        app_version::text as app_version,
        satisfaction_level::text as satisfaction_level,
        resolution_speed::text as resolution_speed,

        extract(year from created_at_utc)::integer as created_year,
        extract(quarter from created_at_utc)::integer as created_quarter,
        extract(month from created_at_utc)::integer as created_month,
        extract(day from created_at_utc)::integer as created_day,
        extract(isodow from created_at_utc)::integer as created_day_of_week,
        resolution_time_hours::numeric(12, 2) as resolution_time_hours,
        case
            when resolved_at is not null
                then round(extract(epoch from resolved_at - created_at) / 3600, 4)
        end::numeric(14, 4) as actual_resolution_hours,
        case
            when first_response_at is not null
                then round(extract(epoch from first_response_at - created_at) / 3600, 4)
        end::numeric(14, 4) as first_response_hours,
        satisfaction_score::integer as satisfaction_score,

        is_resolved::boolean as is_resolved,
        (status in ('open', 'in_progress'))::boolean as is_open,
        is_v12_related::boolean as is_v12_related,
        coalesce(app_version = 'v1.2', false)::boolean as is_on_v12_app,

        created_at_utc::date as created_date,

        created_at::timestamptz as created_at,
        first_response_at::timestamptz as first_response_at,
        resolved_at::timestamptz as resolved_at,
        updated_at::timestamptz as updated_at

    from joined

)

select * from final
