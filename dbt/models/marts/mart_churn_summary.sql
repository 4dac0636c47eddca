-- Customers and estimated CLV per segment, churn risk level and churn window (mart_churned_customers' flags): the
-- counts behind the spec's query 3 and the MCP churn tools, at a size independent of the customer count.
with

churn as (

    select * from {{ ref('mart_churned_customers') }}

),

final as (

    select
        customer_segment::text as customer_segment,
        churn_risk_level::text as churn_risk_level,

        count(*)::bigint as customers,
        sum(estimated_clv)::numeric(18, 2) as estimated_clv,

        is_churned_30d::boolean as is_churned_30d,
        is_churned_90d::boolean as is_churned_90d,

        as_of_date::date as as_of_date

    from churn
    group by customer_segment, churn_risk_level, is_churned_30d, is_churned_90d, as_of_date

)

select * from final
