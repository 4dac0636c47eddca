{#-
    The churn lists the export publishes, with the customers' contacts: the columns of `churn_list_snapshots` (its
    select list is the export's allow-list) plus customer_name, email and phone joined by customer id (the current
    contacts), masked by `mask_pii` unless `masked` is false. One definition for `serving.churn_list_snapshots`
    (masked, the reader's export) and `pii.churn_list_snapshots` (raw, the export with SA_EXPORT_INCLUDE_PII=true).
    No CTEs: see models/serving (a view with a WITH clause is never flattened into the query reading it).
-#}
{% macro churn_lists_with_contacts(masked) %}

select
    lists.*,
    {% if masked -%}
    {{ mask_pii('contacts.customer_name') }} as customer_name,
    {{ mask_pii('contacts.email', 'email') }} as email,
    {{ mask_pii('contacts.phone') }} as phone
    {%- else -%}
    contacts.customer_name,
    contacts.email,
    contacts.phone
    {%- endif %}

from {{ ref('churn_list_snapshots') }} as lists
left join {{ ref('mart_churned_customers') }} as contacts on lists.customer_id = contacts.customer_id
{% if masked -%}
cross join {{ masking_key() }}
{%- endif %}

{% endmacro %}
