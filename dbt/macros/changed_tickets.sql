-- Which tickets a build must look at again, and which calendar periods they fall in: the one rule shared by the
-- incremental ticket mart and the period marts built on it (docs/architecture.md, "Decisions").

-- A condition on stg_tickets: the ticket row was written by a load committed since this model's last build, or its
-- row in one of `dimensions` (source tables: customers, products, ticket_categories, root_causes) was rewritten by one
-- (a dimension no load rewrote adds no condition). A product, category or root cause counts only if tickets of
-- mart_ticket_analytics have it (a new one has none: the gate refuses a ticket whose parent is not there; the night's
-- own tickets are in the first arm) and, with `visible_change` (the ticket mart, before its merge), only if a value
-- the mart carries of it changed (its name, say — not a product's fee: the source re-sends a reference table whole,
-- and the extract rewrites the changed rows, whatever their column). Both are looked up in the mart's indexes: no
-- index serves those arms on the source, and one of them made the planner read every ticket. A model using it names
-- stg_tickets and the dimensions' models in `-- depends_on:` lines when it does not ref them.
{% macro changed_tickets_condition(dimensions=('customers', 'products', 'ticket_categories', 'root_causes'),
                                   visible_change=false) -%}
    {#- per dimension: the mart's columns taken from it (mart_ticket_analytics, `joined`), and the staging column each
        comes from -#}
    {%- set carried = {
        'products': [('product_name', 'product_name'), ('product_category', 'product_category'),
                     ('product_type', 'product_type')],
        'ticket_categories': [('category_name', 'category_name')],
        'root_causes': [('root_cause_name', 'root_cause_name'), ('root_cause_severity', 'severity'),
                        ('root_cause_release', 'related_release')],
    } %}
    _batch_id = any({{ batches_loaded_since_last_build('support_tickets') }})
    {%- for key, dimension, source_table in [
        ('customer_id', 'stg_customers', 'customers'),
        ('product_id', 'stg_products', 'products'),
        ('category_id', 'stg_ticket_categories', 'ticket_categories'),
        ('root_cause_id', 'stg_root_causes', 'root_causes'),
    ] %}
        {%- set changed_batches = batch_ids_loaded_since_last_build(source_table) if source_table in dimensions
                                  else [] %}
        {%- if changed_batches %}
            {#- the rewritten rows' keys as literals: with a subquery here the planner could not use an index for this
                arm of the `or` and read every ticket (3.7 s of the ticket mart's ~5 s at scale 100); tickets by
                customer are read through the index on trim(customer_id) (include/warehouse/bootstrap.py) -#}
            {%- set in_mart = "" %}
            {%- if source_table in carried %}
                {%- set in_mart = " and exists (select from " ~ model_relation('mart_ticket_analytics')
                    ~ " as mart where mart." ~ key ~ " = changed." ~ key %}
                {%- if visible_change %}
                    {%- set in_mart_now, in_source_now = [], [] %}
                    {%- for mart_column, staging_column in carried[source_table] %}
                        {%- do in_mart_now.append('mart.' ~ mart_column) %}
                        {%- do in_source_now.append('changed.' ~ staging_column) %}
                    {%- endfor %}
                    {%- set in_mart = in_mart ~ " and (" ~ in_mart_now | join(', ') ~ ") is distinct from ("
                        ~ in_source_now | join(', ') ~ ")" %}
                {%- endif %}
                {%- set in_mart = in_mart ~ ")" %}
            {%- endif %}
            {%- set changed_keys = run_query(
                "select distinct " ~ key ~ " from " ~ ref(dimension) ~ " as changed where _batch_id = any("
                ~ text_array(changed_batches) ~ ")" ~ in_mart ~ " order by 1").columns[0].values() %}
            {%- if changed_keys %}
    or {{ key }} = any({{ text_array(changed_keys) }})
            {%- endif %}
        {%- endif %}
    {%- endfor %}
{%- endmacro %}

-- The `grain` periods ('day', 'month', 'quarter', 'year'; UTC) that hold a ticket changed in a way the period marts
-- see — the ticket itself, its product, category or root cause; they carry nothing of the customer — as [start, end)
-- date pairs, looked up when the model runs. A ticket's created_at is its creation time and never moves to another
-- period: a source that rewrites it needs a --full-refresh of the period marts.
{% macro periods_with_changed_tickets(grain) -%}
    {%- if not execute -%}
        {{ return([]) }}
    {%- endif -%}
    {%- set query -%}
        select distinct
            date_trunc('{{ grain }}', created_at at time zone 'UTC')::date::text,
            (date_trunc('{{ grain }}', created_at at time zone 'UTC')
             + interval '{{ {'day': '1 day', 'month': '1 month', 'quarter': '3 months', 'year': '1 year'}[grain] }}'
            )::date::text
        from {{ ref('stg_tickets') }}
        where {{ changed_tickets_condition(dimensions=('products', 'ticket_categories', 'root_causes')) }}
        order by 1
    {%- endset -%}
    {%- set table = run_query(query) -%}
    {{ return(table.rows | map('list') | list) }}
{%- endmacro %}

-- `date_column` in one of `periods` (from periods_with_changed_tickets, sorted); false for none. Adjacent periods are
-- merged into one range first: a night's late updates touch most days of the history, and hundreds of `or`ed ranges
-- tested on every ticket cost more than the aggregation they select for.
{% macro date_in_periods(date_column, periods) -%}
    {%- set ranges = [] -%}
    {%- for start, end in periods -%}
        {%- if ranges and ranges[-1][1] == start -%}
            {%- do ranges.append([ranges.pop()[0], end]) -%}
        {%- else -%}
            {%- do ranges.append([start, end]) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if ranges | length == 0 -%}
        false
    {%- else -%}
        (
        {%- for start, end in ranges %}
            {{ 'or ' if not loop.first }}({{ date_column }} >= date '{{ start }}' and {{ date_column }} < date '{{ end }}')
        {%- endfor %}
        )
    {%- endif -%}
{%- endmacro %}
