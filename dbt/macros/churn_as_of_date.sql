{#-
    The date churn is evaluated as of, as a SQL expression of type date.
    - var `as_of_date` set (YYYY-MM-DD): that date, validated here so a typo fails at compile time;
    - unset/null: the latest login date in the data (UTC), never now()/current_date, so a rerun is exact.
-#}
{% macro churn_as_of_date(logins_relation) -%}
    {%- set value = var('as_of_date', none) -%}
    {%- if value is none or (value | string | trim) in ('', 'none', 'None', 'null') -%}
        (select max((login_at at time zone 'UTC')::date) from {{ logins_relation }})
    {%- else -%}
        {%- set text = value | string | trim -%}
        {%- if not modules.re.match('^[0-9]{4}-[0-9]{2}-[0-9]{2}$', text) -%}
            {{ exceptions.raise_compiler_error("var as_of_date must be a date YYYY-MM-DD, got '" ~ text ~ "'") }}
        {%- endif -%}
        date '{{ text }}'
    {%- endif -%}
{%- endmacro %}
