-- churn_risk_level follows the documented thresholds of churn_risk_score (written out here on purpose, not via
-- the model's macro): 0–19 active, 20–39 low, 40–59 medium, 60–79 high, 80–100 critical.
-- Every night the customers the activity merged in its last build, every customer on the weekly full-check day
-- (macros/tests_on_new_rows.sql).
select
    customer_id,
    churn_risk_score,
    churn_risk_level
from {{ ref('mart_churned_customers') }}
where {{ customers_merged_by('int_customer_churn_activity') }} and not (
    (churn_risk_level = 'active' and churn_risk_score between 0 and 19)
    or (churn_risk_level = 'low' and churn_risk_score between 20 and 39)
    or (churn_risk_level = 'medium' and churn_risk_score between 40 and 59)
    or (churn_risk_level = 'high' and churn_risk_score between 60 and 79)
    or (churn_risk_level = 'critical' and churn_risk_score between 80 and 100)
)
