-- serving.mart_churn_summary: the aggregate for the reader (no PII), every column as in the mart, listed one by one.
{{ config(alias='mart_churn_summary') }}

-- No CTEs here (unlike the rest of the project): PostgreSQL never flattens a view that has a WITH clause
-- into the query that reads it, and the reader's `order by … limit` would no longer reach the mart's indexes.
select
    customer_segment,
    churn_risk_level,
    customers,
    estimated_clv,
    is_churned_30d,
    is_churned_90d,
    as_of_date
from {{ ref('mart_churn_summary') }}
