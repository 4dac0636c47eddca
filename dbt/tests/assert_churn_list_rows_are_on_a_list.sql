-- Every stored customer is on at least one of the export's lists, and on each exactly when the list's rule says so
-- (a row on no list would be published nowhere; a wrong flag in the wrong file). The build's own as-of date, the only
-- rows it wrote (every row on the weekly full-check day).
select
    lists.as_of_date,
    lists.customer_id
from {{ ref('churn_list_snapshots') }} as lists
where (
    not (lists.in_churned_customers or lists.in_high_risk_customers)
    or lists.in_churned_customers is distinct from coalesce(lists.is_churned_90d, false)
    or lists.in_high_risk_customers
    is distinct from coalesce(lists.churn_risk_level in ('high', 'critical'), false)
)
{% if not tests_every_row() %}
    and lists.as_of_date = {{ churn_as_of_date(none) }}
{% endif %}
