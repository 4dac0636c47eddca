-- A customer who churned within the last 30 days also churned within the last 90 days.
select
    customer_id,
    days_since_last_login
from {{ ref('mart_churned_customers') }}
where is_churned_30d and not is_churned_90d
