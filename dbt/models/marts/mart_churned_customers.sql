-- One row per customer who had signed up by the as-of date, with activity, churn flags, a 0–100 risk score and CLV.
-- Everything is evaluated as of the as-of date of int_customer_churn_activity's last build (var('as_of_date'), by
-- default the latest login date in the data); logins, tickets and holdings after that date are ignored, so a rerun
-- for the same date gives the same answer. Rules, formula and thresholds are documented in _marts__models.yml.
--
-- A view: the counts are kept per customer by int_customer_churn_activity (merged for the customers a night
-- changed); what moves by itself as days pass — days since the last login, the churn flags, the score and its level —
-- is computed here when read, so no night rewrites every customer's row. No CTEs (see models/serving): the readers'
-- `order by estimated_clv … limit` and lookups by customer_id reach the activity table's indexes.
{{ config(materialized='view') }}
-- depends_on: {{ source('audit', 'build_watermarks') }}
{%- set last_login_date = "(activity.last_login_at at time zone 'UTC')::date" %}
{%- set days_since_last_login = '(built.as_of_date - ' ~ last_login_date ~ ')' %}
{#- recency (0–50): days without a login (since sign-up for customers who never logged in), full at 60; the rest of
    the score (frequency, support friction, holdings: 0–50) does not move with the date and is kept per customer -#}
{%- set score -%}
    least(100, greatest(0, round(
        least(built.as_of_date - coalesce({{ last_login_date }}, activity.signup_date), 60) * 50.0 / 60
        + activity.risk_points_without_recency
    )))::integer
{%- endset %}

select
    activity.customer_id,

    activity.customer_name,
    activity.email,
    activity.phone,
    activity.customer_segment,
    activity.customer_city,
    {{ churn_risk_level(score) }}::text as churn_risk_level,

    {{ days_since_last_login }}::integer as days_since_last_login,
    activity.total_logins,
    activity.logins_last_30d,
    activity.logins_prior_60d,
    activity.active_products,
    activity.products_closed_90d,
    activity.total_tickets,
    activity.tickets_last_90d,
    activity.open_tickets,
    activity.unsatisfied_tickets,
    activity.unsatisfied_tickets_90d,
    {{ score }} as churn_risk_score,
    activity.monthly_revenue,
    activity.estimated_clv,

    (activity.last_login_at is not null)::boolean as has_logged_in,
    coalesce({{ days_since_last_login }} between 30 and 59, false)::boolean as is_churned_30d,
    coalesce({{ days_since_last_login }} between 30 and 119, false)::boolean as is_churned_90d,

    built.as_of_date::date as as_of_date,
    activity.signup_date,
    {{ last_login_date }} as last_login_date,

    activity.last_login_at

from {{ ref('int_customer_churn_activity') }} as activity
inner join {{ source('audit', 'build_watermarks') }} as built
    on built.model_name = '{{ watermark_name('int_customer_churn_activity') }}'
where activity.signup_date <= built.as_of_date
