{#-
    The date churn is evaluated as of, as a SQL expression of type date.
    - var `as_of_date` (YYYY-MM-DD; `dbt build --vars`, unit tests), else the environment variable `SA_AS_OF_DATE`
      (how the Airflow transform passes the run's date: unlike a new `--vars` value, a new environment value does
      not make dbt re-parse the project — it is read only at execution, never while parsing);
      validated here so a typo fails at compile time;
    - unset/empty: the latest login date in the data (UTC; `login_totals_relation`: int_customer_login_totals), never
      now()/current_date, so a rerun is exact.
-#}
{% macro churn_as_of_date(login_totals_relation) -%}
    {%- set text = given_as_of_date() -%}
    {%- if text == '' -%}
        (select max(last_login_date) from {{ login_totals_relation }})
    {%- else -%}
        {%- if not modules.re.match('^[0-9]{4}-[0-9]{2}-[0-9]{2}$', text) -%}
            {{ exceptions.raise_compiler_error("as-of date (var as_of_date or SA_AS_OF_DATE) must be a date YYYY-MM-DD, got '" ~ text ~ "'") }}
        {%- endif -%}
        date '{{ text }}'
    {%- endif -%}
{%- endmacro %}

{#- The as-of date the run was given, as trimmed text, '' for none: var `as_of_date`, else (at execution only)
    SA_AS_OF_DATE. Also what tests_on_new_rows.sql reads the weekly full-test day from. -#}
{% macro given_as_of_date() -%}
    {%- set value = var('as_of_date', none) -%}
    {%- if (value is none or (value | string | trim) == '') and execute -%}
        {%- set value = env_var('SA_AS_OF_DATE', '') -%}
    {%- endif -%}
    {%- if value is none or (value | string | trim) in ('', 'none', 'None', 'null') -%}
        {{ return('') }}
    {%- endif -%}
    {{ return(value | string | trim) }}
{%- endmacro %}

{#- The as-of date a build of churn_list_snapshots wrote its lists for: the given one, else (a build as of the latest
    data) the newest date in `lists_relation` — not churn_as_of_date's lookup, whose ref from the model's post-hook
    would make int_customer_login_totals a parent of the lists (and a task of its own in the transform grid). -#}
{% macro churn_lists_as_of_date(lists_relation) -%}
    {%- if given_as_of_date() == '' -%}
        (select max(as_of_date) from {{ lists_relation }})
    {%- else -%}
        {{ churn_as_of_date(none) }}
    {%- endif -%}
{%- endmacro %}
