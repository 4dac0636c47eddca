-- churn_risk_score is a 0–100 scale.
-- Every night the customers the activity merged in its last build, every customer on the weekly full-check day
-- (macros/tests_on_new_rows.sql).
select
    customer_id,
    churn_risk_score
from {{ ref('mart_churned_customers') }}
where
    {{ customers_merged_by('int_customer_churn_activity') }}
    and (churn_risk_score is null or churn_risk_score < 0 or churn_risk_score > 100)
