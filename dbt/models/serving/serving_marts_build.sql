-- serving.marts_build: one row saying which marts the reader is looking at — their as-of date and when the build
-- that made them finished them. Built last (after every serving view), so `built_at` is the moment a build had
-- every mart built, tested and served; a build that failed a test never gets here and the row keeps the last good
-- build. The one place now() is right: it records when this happened, it is not logic over the data.
-- depends_on: {{ ref('serving_mart_ticket_analytics') }}
-- depends_on: {{ ref('serving_mart_top_root_causes') }}
-- depends_on: {{ ref('serving_mart_root_causes_by_period') }}
-- depends_on: {{ ref('serving_mart_tickets_by_day') }}
-- depends_on: {{ ref('serving_mart_churn_summary') }}
-- depends_on: {{ ref('serving_churn_list_snapshots') }}
{{ config(alias='marts_build', materialized='table') }}

with

churn as (

    select * from {{ ref('serving_mart_churned_customers') }}

),

final as (

    select
        '{{ invocation_id }}'::text as dbt_invocation_id,
        max(churn.as_of_date)::date as as_of_date,
        now()::timestamptz as built_at

    from churn

)

select * from final
