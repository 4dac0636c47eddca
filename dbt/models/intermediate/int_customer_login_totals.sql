-- Per customer: every login so far, the latest, and every login's UTC day (login_days, sorted) — the churn mart's
-- login activity kept per customer, so the nightly build neither counts every customer's every login again nor reads
-- the last 90 days' logins to count the 30/60-day windows: int_customer_churn_activity counts them in login_days
-- (a date is 4 bytes a login).
--
-- Incremental, merged on customer_id, over the logins the loads committed since its last build (the load log's
-- committed sequence, macros/incremental_watermark.sql):
--   * a load that only appended (audit.committed_loads.appended_only: every login of its batch is new — a late login
--     for an old day included): its logins are added to the customer's stored totals (count, latest, login days
--     merged in order), reading only the night's logins and the customer's one stored row;
--   * any other load (a re-delivered day, a login rewritten, a reset load log): its customers are recounted whole
--     from all their logins, read through the bootstrap's index on analytics.customer_logins (trim(customer_id)),
--     and nothing is added for them.
-- As of the latest data: int_customer_churn_activity takes off the logins after its as-of date. A full refresh gives
-- the same rows (tests/integration/test_incremental_marts.py). Source rows are never deleted, and a login that moves
-- to another customer needs a --full-refresh (the old customer is not recounted); after emptying source tables,
-- build with --full-refresh.
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
    {%- set added_batches = batches_loaded_since_last_build('customer_logins', appended=true) %}
    {%- set recounted_batches = batches_loaded_since_last_build('customer_logins', appended=false) %}
    -- logins added to the stored totals: {{ added_batches }}; customers recounted: {{ recounted_batches }}

    recounted as (

        select distinct customer_id from {{ ref('stg_customer_logins') }}
        where _batch_id = any({{ recounted_batches }})

    ),

    -- each recounted customer's logins through the index, one customer at a time (LATERAL): joined as a set, the
    -- planner reads every login instead
    recounts as (

        select
            recounted.customer_id,
            recount.total_logins,
            recount.last_login_at,
            recount.login_days

        from recounted
        cross join lateral (
            select
                count(*) as total_logins,
                max(logins.login_at) as last_login_at,
                array_agg((logins.login_at at time zone 'UTC')::date order by logins.login_at) as login_days
            from {{ ref('stg_customer_logins') }} as logins
            where logins.customer_id = recounted.customer_id
        ) as recount

    ),

    -- the appending loads' logins per customer (not recounted)
    new_logins as (

        select
            logins.customer_id,
            count(*) as total_logins,
            max(logins.login_at) as last_login_at,
            array_agg((logins.login_at at time zone 'UTC')::date order by logins.login_at) as login_days

        from {{ ref('stg_customer_logins') }} as logins
        where
            logins._batch_id = any({{ added_batches }})
            and not exists (select from recounted where recounted.customer_id = logins.customer_id)
        group by logins.customer_id

    ),

    -- added to what the last build stored; the login days merged in order (appended when all are on or after the
    -- stored last day, the usual night; sorted again after a late login)
    additions as (

        select
            new_logins.customer_id,
            coalesce(stored.total_logins, 0) + new_logins.total_logins as total_logins,
            greatest(stored.last_login_at, new_logins.last_login_at) as last_login_at,
            case
                when stored.customer_id is null then new_logins.login_days
                when new_logins.login_days[1] >= stored.last_login_date
                    then stored.login_days || new_logins.login_days
                else array(select day from unnest(stored.login_days || new_logins.login_days) as day order by day)
            end as login_days

        from new_logins
        left join {{ this }} as stored on new_logins.customer_id = stored.customer_id

    ),

    final as (

        select
            customer_id::text as customer_id,
            total_logins::integer as total_logins,
            (last_login_at at time zone 'UTC')::date as last_login_date,
            last_login_at::timestamptz as last_login_at,
            login_days::date[] as login_days

        from (select * from recounts union all select * from additions) as changed

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
{% if is_incremental() -%}
    -- in key order, so that the merge walks the table's key index and pages in order (as int_customer_churn_activity
    -- does, where it was measured)
    order by customer_id
{%- endif %}
