-- serving.mart_churned_customers: the churn mart as the reader sees it — customer_name, email and phone replaced by
-- keyed HMAC tokens (macro mask_pii), every other column as in the mart. Listed one by one, so a column added to
-- the mart (a new contact field, say) reaches the reader only once it is added here, masked or not.
{{ config(alias='mart_churned_customers') }}

with

churn as (

    select * from {{ ref('mart_churned_customers') }}

),

final as (

    select
        customer_id,

        {{ mask_pii('customer_name') }} as customer_name,
        {{ mask_pii('email', 'email') }} as email,
        {{ mask_pii('phone') }} as phone,
        customer_segment,
        customer_city,
        churn_risk_level,

        days_since_last_login,
        total_logins,
        logins_last_30d,
        logins_prior_60d,
        active_products,
        products_closed_90d,
        total_tickets,
        tickets_last_90d,
        open_tickets,
        unsatisfied_tickets,
        unsatisfied_tickets_90d,
        churn_risk_score,
        monthly_revenue,
        estimated_clv,

        has_logged_in,
        is_churned_30d,
        is_churned_90d,

        as_of_date,
        signup_date,
        last_login_date,

        last_login_at

    from churn

)

select * from final
