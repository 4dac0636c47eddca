{#-
    Models land exactly in the schema their folder configures (`staging`, `marts`), not dbt's default
    `<target schema>_<custom schema>`: the roles' privileges, the reader's grants and the exports name those schemas.
    A model without a custom schema lands in the target's schema (`staging`).
-#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema | trim }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
