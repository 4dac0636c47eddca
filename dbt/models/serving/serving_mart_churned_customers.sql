-- serving.mart_churned_customers: the churn mart as the reader sees it — customer_name, email and phone replaced by
-- keyed HMAC tokens (macro mask_pii), every other column as in the mart. Listed one by one, so a column added to
-- the mart (a new contact field, say) reaches the reader only once it is added here, masked or not.
{{ config(alias='mart_churned_customers') }}

-- No CTEs here (unlike the rest of the project): PostgreSQL never flattens a view that has a WITH clause
-- into the query that reads it, and the reader's `order by … limit` would no longer reach the mart's indexes.
select
    churn.customer_id,

    {{ mask_pii('churn.customer_name') }} as customer_name,
    {{ mask_pii('churn.email', 'email') }} as email,
    {{ mask_pii('churn.phone') }} as phone,
    churn.customer_segment,
    churn.customer_city,
    churn.churn_risk_level,

    churn.days_since_last_login,
    churn.total_logins,
    churn.logins_last_30d,
    churn.logins_prior_60d,
    churn.active_products,
    churn.products_closed_90d,
    churn.total_tickets,
    churn.tickets_last_90d,
    churn.open_tickets,
    churn.unsatisfied_tickets,
    churn.unsatisfied_tickets_90d,
    churn.churn_risk_score,
    churn.monthly_revenue,
    churn.estimated_clv,

    churn.has_logged_in,
    churn.is_churned_30d,
    churn.is_churned_90d,

    churn.as_of_date,
    churn.signup_date,
    churn.last_login_date,

    churn.last_login_at

from {{ ref('mart_churned_customers') }} as churn
cross join {{ masking_key() }}
