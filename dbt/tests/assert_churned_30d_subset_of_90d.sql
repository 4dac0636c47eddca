-- A customer who churned within the last 30 days also churned within the last 90 days.
-- Every night the customers the activity merged in its last build, every customer on the weekly full-check day
-- (macros/tests_on_new_rows.sql).
select
    customer_id,
    days_since_last_login
from {{ ref('mart_churned_customers') }}
where {{ customers_merged_by('int_customer_churn_activity') }} and is_churned_30d and not is_churned_90d
