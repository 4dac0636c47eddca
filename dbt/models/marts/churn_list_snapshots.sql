-- The churn lists the export publishes, kept per as-of date: every build adds (or replaces) the lists of its own
-- as-of date, so the export of a date reads exactly what that date's build produced even when the marts have
-- since been rebuilt for a later date (backfills). The select list, but the list flags (`in_<list name>`), is the
-- export's allow-list: a column added to mart_churned_customers reaches the export only once it is named here (no
-- PII: contacts are joined at export).
-- Retention: a build deletes the lists more than churn_list_retention_days older than its own as-of date — not the
-- newest date's: a backfill of dates further back than that keeps each date's lists for its export (the nightly
-- build of the newest date removes them afterwards).
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='as_of_date',
        on_schema_change='fail',
        post_hook=[
            "delete from {{ this }} where as_of_date < {{ churn_lists_as_of_date(this) }}"
            ~ " - {{ var('churn_list_retention_days', 7) }}"
        ],
    )
}}

with

churn as (

    select * from {{ ref('mart_churned_customers') }}

),

-- each list's rule, stated once: the flags below, which the filter of `final` reads
flagged as (

    select
        churn.*,
        coalesce(churn.is_churned_90d, false) as in_churned_customers,
        coalesce(churn.churn_risk_level in ('high', 'critical'), false) as in_high_risk_customers
    from churn

),

-- one row per customer on either list, flagged with the lists it is on (a third of the customers are on both:
-- one row each instead of two; the export reads a list by its flag)
final as (

    select
        in_churned_customers::boolean as in_churned_customers,
        in_high_risk_customers::boolean as in_high_risk_customers,
        customer_id::text as customer_id,

        customer_segment::text as customer_segment,
        customer_city::text as customer_city,
        churn_risk_level::text as churn_risk_level,

        churn_risk_score::integer as churn_risk_score,
        days_since_last_login::integer as days_since_last_login,
        active_products::integer as active_products,
        open_tickets::integer as open_tickets,
        unsatisfied_tickets_90d::integer as unsatisfied_tickets_90d,
        monthly_revenue::numeric(12, 2) as monthly_revenue,
        estimated_clv::numeric(14, 2) as estimated_clv,

        is_churned_30d::boolean as is_churned_30d,
        is_churned_90d::boolean as is_churned_90d,

        as_of_date::date as as_of_date,
        last_login_date::date as last_login_date

    from flagged
    where in_churned_customers or in_high_risk_customers

)

select * from final
