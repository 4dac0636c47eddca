{#-
    The churn lists the export publishes, with the customers' contacts: the columns of `churn_list_snapshots` (its
    select list is the export's allow-list) plus customer_name, email and phone joined by customer id (the current
    contacts), masked unless `masked` is false. One definition for `serving.churn_list_snapshots` (masked, the
    reader's export) and `pii.churn_list_snapshots` (raw, the export with SA_EXPORT_INCLUDE_PII=true).
    Masked: the tokens int_customer_contact_tokens keeps (the same contacts, hashed by the same build with the same
    HMAC) formatted as mask_pii formats them — hashing ~0.5M listed customers' three contacts when read was two thirds
    of each list's read at scale 100 —, and mask_pii on the contact itself, looked up by id, for a customer whose
    tokens are missing or were made with another key than the current one (rotated since the last build): a new key
    is in force at once. (The tokens are kept for every customer; after the marts were rebuilt for an earlier date,
    a later date's kept lists can hold customers who had not signed up by it: masked, they keep their tokens, where
    the raw variant, joined to the churn mart of that earlier date, has no contacts for them.)
    No CTEs: see models/serving (a view with a WITH clause is never flattened into the query reading it).
-#}
{% macro churn_lists_with_contacts(masked) %}

select
    lists.*,
    {% if masked -%}
    {%- for column, kind in [('customer_name', 'text'), ('email', 'email'), ('phone', 'text')] %}
    case
        when tokens.masked_with = masking_key.updated_at
            then {{ masked_pii_from_digest('tokens.' ~ column ~ '_digest', kind) }}
        else (
            select {{ mask_pii('contacts.' ~ column, kind) }}
            from {{ ref('mart_churned_customers') }} as contacts
            where contacts.customer_id = lists.customer_id
        )
    end as {{ column }}{{ ',' if not loop.last }}
    {%- endfor %}
    {%- else -%}
    contacts.customer_name,
    contacts.email,
    contacts.phone
    {%- endif %}

from {{ ref('churn_list_snapshots') }} as lists
{% if masked -%}
left join {{ ref('int_customer_contact_tokens') }} as tokens on lists.customer_id = tokens.customer_id
cross join {{ masking_key() }}
{%- else -%}
left join {{ ref('mart_churned_customers') }} as contacts on lists.customer_id = contacts.customer_id
{%- endif %}

{% endmacro %}
