-- Per customer: every login so far, and the latest — the part of the churn mart's login activity that spans all of
-- history, kept so the nightly build does not add up every customer's every day again.
--
-- Incremental, merged on customer_id: a build re-adds the days of the customers that the loads committed since its
-- last build wrote a login for (same rule as int_customer_login_days, which it reads by its (customer_id,
-- login_date) index). As of the latest data: mart_churned_customers takes off the days after its as-of date.
{{
    config(
        materialized='incremental',
        unique_key='customer_id',
        incremental_strategy='merge',
        on_schema_change='fail',
        post_hook=[
            "{{ record_merged_load_seq() }}",
            "create unique index if not exists int_customer_login_totals_key on {{ this }} (customer_id)",
        ],
    )
}}
-- depends_on: {{ source('audit', 'build_watermarks') }}
-- depends_on: {{ ref('stg_committed_loads') }}
-- depends_on: {{ ref('stg_customer_logins') }}

with

login_days as (

    select * from {{ ref('int_customer_login_days') }}
    {% if is_incremental() %}
        where customer_id in (
            select customer_id from {{ ref('stg_customer_logins') }}
            where _batch_id = any({{ batches_loaded_since_last_build('customer_logins') }})
        )
    {% endif %}

),

final as (

    select
        customer_id::text as customer_id,
        sum(logins)::integer as total_logins,
        max(login_date)::date as last_login_date,
        max(last_login_at)::timestamptz as last_login_at

    from login_days
    group by customer_id

)

select * from final
