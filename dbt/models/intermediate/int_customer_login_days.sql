-- Logins per customer per UTC day: what the churn mart reads instead of every login event.
--
-- Incremental, merged on (customer_id, login_date): a build recounts the UTC days that the loads committed since its
-- last build wrote a login for (the load log's committed sequence, macros/incremental_watermark.sql) — a late login
-- for an old day and a re-delivered day included: the day is recounted from all its logins, never added to. The
-- recount reads those days' logins by `login_at` (the BRIN index on analytics.customer_logins).
-- A full refresh gives the same rows. Source rows are never deleted; after emptying source tables, build with
-- --full-refresh.
{{
    config(
        materialized='incremental',
        unique_key=['customer_id', 'login_date'],
        incremental_strategy='merge',
        on_schema_change='fail',
        post_hook=[
            "{{ record_merged_load_seq() }}",
            "create unique index if not exists int_customer_login_days_key on {{ this }} (customer_id, login_date)",
            "create index if not exists int_customer_login_days_date on {{ this }} using brin (login_date)",
        ],
    )
}}
-- depends_on: {{ source('audit', 'build_watermarks') }}
-- depends_on: {{ ref('stg_committed_loads') }}

with

logins as (

    select
        customer_id,
        login_at,
        (login_at at time zone 'UTC')::date as login_date,
        _batch_id

    from {{ ref('stg_customer_logins') }}

),

{% if is_incremental() %}

    {#- the UTC days the loads committed since this model's last build wrote a login for, looked up when the model
        runs: literal dates let the planner read just those days through the BRIN index on login_at -#}
    {%- set days_query -%}
        select distinct (login_at at time zone 'UTC')::date::text from {{ ref('stg_customer_logins') }}
        where _batch_id = any({{ batches_loaded_since_last_build('customer_logins') }})
        order by 1
    {%- endset -%}
    {%- set touched_days = run_query(days_query).columns[0].values() if execute else [] -%}

    -- every login of those days, for every customer: a day is recounted whole, never added to
    recounted as (

        select * from logins
        {% if touched_days | length == 0 %}
            where false
        {% else %}
            where
                login_at >= timestamp '{{ touched_days[0] }}' at time zone 'UTC'
                and login_at < (date '{{ touched_days[-1] }}' + 1)::timestamp at time zone 'UTC'
                and login_date in ({% for day in touched_days %}date '{{ day }}'{{ ', ' if not loop.last }}{% endfor %})
        {% endif %}

    ),

{% endif %}

final as (

    select
        customer_id::text as customer_id,
        login_date::date as login_date,
        count(*)::integer as logins,
        max(login_at)::timestamptz as last_login_at

    from {{ 'recounted' if is_incremental() else 'logins' }}
    group by customer_id, login_date
    {% if not is_incremental() %}
        -- written in day order (nightly merges append later days): the BRIN index on login_date then lets the churn
        -- mart read its 90-day window alone
        order by login_date
    {% endif %}

)

select * from final
