-- churn_risk_score is a 0–100 scale.
select
    customer_id,
    churn_risk_score
from {{ ref('mart_churned_customers') }}
where churn_risk_score is null or churn_risk_score < 0 or churn_risk_score > 100
