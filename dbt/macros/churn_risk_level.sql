{#- The churn risk level of a 0–100 integer score: 0–19 active, 20–39 low, 40–59 medium, 60–79 high, 80–100 critical
    (bands of 20; 100 is critical). One definition, used by mart_churned_customers (a view: one array lookup per row
    read, not a chain of comparisons of the score's whole formula); its consistency test spells the bands out. -#}
{% macro churn_risk_level(score) -%}
    (array['active', 'low', 'medium', 'high', 'critical'])[least(({{ score }}) / 20, 4) + 1]
{%- endmacro %}
