-- Incremental models driven by the load log's committed sequence (docs/architecture.md, "Decisions").
-- A model merges the rows whose load number is above the highest its last build merged, kept per model in
-- audit.build_watermarks and written by its post-hook in the build's own transaction. Loads and builds exclude each
-- other (include/warehouse/locks.py), so the highest committed number when the hook runs is the one the model read.

-- Post-hook of an incremental model: record the highest committed load number as merged, and for a model whose rows
-- hold counts as of a date (int_customer_churn_activity) that as-of date (a SQL date expression), which the model's
-- next build compares with its own and the views on it read.
{% macro record_merged_load_seq(as_of_date=none) -%}
    insert into {{ source('audit', 'build_watermarks') }} (model_name, load_seq, built_at, as_of_date)
    select '{{ this.schema }}.{{ this.identifier }}', coalesce(max(load_seq), 0), now(), {{ as_of_date or 'null' }}
    from {{ ref('stg_committed_loads') }}
    on conflict (model_name) do update
    set load_seq = excluded.load_seq, built_at = excluded.built_at, as_of_date = excluded.as_of_date
{%- endmacro %}

-- The batches of `table_name` whose load was committed after the last build of `model_name` (schema.relation;
-- default: this model) — every batch when the load log restarted below that build's number (a reset warehouse) —
-- as a literal array of text: `_batch_id = any(...)`. Looked up when the node runs, so the
-- planner sees the actual batch ids and reads the night's rows through the `_batch_id` index (a subquery it cannot
-- see into made it estimate a whole table's worth and scan it). `appended`: true — only the batches whose latest
-- load only appended (audit.committed_loads.appended_only: its rows are keys no earlier build read), never after a
-- restart; false — the others; none — all.
{% macro batches_loaded_since_last_build(table_name, model_name=none, appended=none) -%}
    {{ return(text_array(batch_ids_loaded_since_last_build(table_name, model_name, appended))) }}
{%- endmacro %}

-- The same batch ids as a list (empty while parsing).
{% macro batch_ids_loaded_since_last_build(table_name, model_name=none, appended=none) -%}
    {%- if not execute -%}
        {{ return([]) }}
    {%- endif -%}
    {%- set model_name = model_name or (this.schema ~ '.' ~ this.identifier) -%}
    {%- set query -%}
        with watermark as (
            select
                coalesce(max(load_seq), 0) as load_seq,
                coalesce(max(load_seq), 0)
                > (select coalesce(max(load_seq), 0) from {{ source('audit', 'committed_loads') }}) as restarted
            from {{ source('audit', 'build_watermarks') }}
            where model_name = '{{ model_name }}'
        )
        select distinct loads.batch_id
        from {{ source('audit', 'committed_loads') }} as loads
        cross join watermark
        where loads.table_name = '{{ table_name }}'
        and (loads.load_seq > watermark.load_seq or watermark.restarted)
        {%- if appended is true %}
            and loads.appended_only and not watermark.restarted
        {%- elif appended is false %}
            and (loads.appended_only is not true or watermark.restarted)
        {%- endif %}
        order by 1
    {%- endset -%}
    {{ return(run_query(query).columns[0].values() | list) }}
{%- endmacro %}

-- `values` as a SQL text[] literal.
{% macro text_array(values) -%}
    {%- set quoted = [] -%}
    {%- for value in values -%}
        {%- do quoted.append("'" ~ (value | string | replace("'", "''")) ~ "'") -%}
    {%- endfor -%}
    {{ return('array[' ~ (quoted | join(', ')) ~ ']::text[]') }}
{%- endmacro %}

-- The name an incremental model's watermark row goes by: its relation, `schema.relation`, as its post-hook writes it.
{% macro watermark_name(model_name) -%}
    {{ return(model_relation(model_name)) }}
{%- endmacro %}

-- A model's relation as `schema.relation`, for a model other than the one being built (a test's where cannot ref());
-- '' while parsing, the bare model name in a unit test (rendered without the project's graph: its fixture rows use
-- that name).
{% macro model_relation(model_name) -%}
    {%- if not execute -%}
        {{ return('') }}
    {%- endif -%}
    {%- if graph.nodes is not defined -%}
        {{ return(model_name) }}
    {%- endif -%}
    {%- set nodes = graph.nodes.values() | selectattr('resource_type', 'equalto', 'model')
                    | selectattr('name', 'equalto', model_name) | list -%}
    {%- if nodes | length != 1 -%}
        {{ exceptions.raise_compiler_error("no model '" ~ model_name ~ "' in the project") }}
    {%- endif -%}
    {{ return(nodes[0].schema ~ '.' ~ nodes[0].alias) }}
{%- endmacro %}
