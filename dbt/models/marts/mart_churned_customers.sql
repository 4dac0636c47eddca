-- One row per customer who had signed up by the as-of date, with activity, churn flags, a 0–100 risk score and CLV.
-- Everything is evaluated as of the as-of date of int_customer_churn_activity's last build (var('as_of_date'), by
-- default the latest login date in the data); logins, tickets and holdings after that date are ignored, so a rerun
-- for the same date gives the same answer. Rules, formula and thresholds are documented in _marts__models.yml.
--
-- A view: the counts that do not move with the date are kept per customer by int_customer_churn_activity (merged for
-- the customers a night changed); what moves by itself as days pass — days since the last login, the logins in the
-- last 30 / prior 60 days and in all (counted in the activity's copy of the customer's sorted login days by binary
-- search: width_bucket(day, login_days) is the number of logins on or before that day), the churn flags, the score
-- and its level — is computed here when read, so no night rewrites every customer's row. No CTEs (see
-- models/serving): the readers' `order by estimated_clv … limit` and lookups by customer_id reach the activity
-- table's indexes.
{{ config(materialized='view') }}
-- depends_on: {{ source('audit', 'build_watermarks') }}
{%- set last_login_date = "(activity.last_login_at at time zone 'UTC')::date" %}
{%- set days_since_last_login = '(built.as_of_date - ' ~ last_login_date ~ ')' %}
{#- the logins on or before the as-of date, and on or before 30 and 90 days before it -#}
{%- set logins_by = {} %}
{%- for days in (0, 30, 90) %}
    {%- do logins_by.update(
        {days: 'coalesce(width_bucket(built.as_of_date - ' ~ days ~ ', activity.login_days), 0)'}) %}
{%- endfor %}
{%- set logins_last_30d = '(' ~ logins_by[0] ~ ' - ' ~ logins_by[30] ~ ')' %}
{%- set logins_prior_60d = '(' ~ logins_by[30] ~ ' - ' ~ logins_by[90] ~ ')' %}
{#- recency (0–50): days without a login (since sign-up for customers who never logged in), full at 60; frequency
    (0–25): the drop of logins in the last 30 days against the prior 60 days' 30-day average; the rest of the score
    (support friction and holdings: 0–25) does not move with the date and is kept per customer -#}
{%- set score -%}
    least(100, greatest(0, round(
        least(built.as_of_date - coalesce({{ last_login_date }}, activity.signup_date), 60) * 50.0 / 60
        + case
            when {{ logins_prior_60d }} = 0 then case when {{ logins_last_30d }} = 0 then 25 else 0 end
            else 25 * greatest(0, 1 - {{ logins_last_30d }} / ({{ logins_prior_60d }} / 2.0))
        end
        + activity.support_and_holding_points
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
    {{ logins_by[0] }}::integer as total_logins,
    {{ logins_last_30d }}::integer as logins_last_30d,
    {{ logins_prior_60d }}::integer as logins_prior_60d,
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
