-- Per customer: every login so far, the latest, and every login's UTC day (login_days, sorted) — the churn mart's
-- login activity kept per customer, so the nightly build neither counts every customer's every login again nor reads
-- the last 90 days' logins to count the 30/60-day windows: int_customer_churn_activity counts them in login_days
-- (a date is 4 bytes a login).
--
-- Incremental, merged on customer_id: a build recounts, from all their logins, the customers the loads committed
-- since its last build wrote a login for (the load log's committed sequence, macros/incremental_watermark.sql) — a
-- late login for an old day and a re-delivered day included: a customer is recounted whole, never added to. Their
-- logins are read through the bootstrap's index on analytics.customer_logins (trim(customer_id)). As of
-- the latest data: int_customer_churn_activity takes off the logins after its as-of date. A full refresh gives the
-- same rows. Source rows are never deleted; after emptying source tables, build with --full-refresh.
{{
    config(
        materialized='incremental',
        unique_key='customer_id',
        incremental_strategy='merge',
        on_schema_change='fail',
        post_hook=[
            "{{ record_merged_load_seq() }}",
            "{{ ensure_index(['customer_id'], unique=true) }}",
        ],
    )
}}
-- depends_on: {{ source('audit', 'build_watermarks') }}
-- depends_on: {{ ref('stg_committed_loads') }}

with

{% if is_incremental() %}

    touched as (

        select distinct customer_id from {{ ref('stg_customer_logins') }}
        where _batch_id = any({{ batches_loaded_since_last_build('customer_logins') }})

    ),

    -- each touched customer's logins through the index, one customer at a time (LATERAL): joined as a set, the
    -- planner reads every login instead
    final as (

        select
            touched.customer_id::text as customer_id,
            recount.total_logins::integer as total_logins,
            (recount.last_login_at at time zone 'UTC')::date as last_login_date,
            recount.last_login_at::timestamptz as last_login_at,
            recount.login_days::date[] as login_days

        from touched
        cross join lateral (
            select
                count(*) as total_logins,
                max(logins.login_at) as last_login_at,
                array_agg((logins.login_at at time zone 'UTC')::date order by logins.login_at) as login_days
            from {{ ref('stg_customer_logins') }} as logins
            where logins.customer_id = touched.customer_id
        ) as recount

    )

{% else %}

    final as (

        select
            customer_id::text as customer_id,
            count(*)::integer as total_logins,
            (max(login_at) at time zone 'UTC')::date as last_login_date,
            max(login_at)::timestamptz as last_login_at,
            array_agg((login_at at time zone 'UTC')::date order by login_at)::date[] as login_days

        from {{ ref('stg_customer_logins') }}
        group by customer_id

    )

{% endif %}

select * from final
