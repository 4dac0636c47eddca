{#- The churn risk level of a 0–100 score: 0–19 active, 20–39 low, 40–59 medium, 60–79 high, 80–100 critical.
    One definition, used by mart_churned_customers and by its consistency test. -#}
{% macro churn_risk_level(score) -%}
    case
        when {{ score }} >= 80 then 'critical'
        when {{ score }} >= 60 then 'high'
        when {{ score }} >= 40 then 'medium'
        when {{ score }} >= 20 then 'low'
        else 'active'
    end
{%- endmacro %}
