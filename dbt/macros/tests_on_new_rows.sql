{#-
    Data tests on big tables check the rows loaded since the last night, and every row once a week
    (docs/operations.md, "Tests on new rows").

    A test opts in with `config: {where: "__new_rows:<consumer model>:<source table>__"}`: the placeholder becomes
    "the row's load (`_batch_id`) is one of the loads of <source table> committed after <consumer model>'s last
    build" (audit.build_watermarks, the load log's committed sequence: macro batches_loaded_since_last_build). The
    consumer is the incremental model built from the tested model: `dbt build` builds it only after these tests
    passed, so a night whose tests failed is tested again the next night, with the new rows.

    A test of a model kept per as-of date (churn_list_snapshots: each build replaces only its own date's rows) opts
    in with `config: {where: "__this_as_of_date__"}`: the rows of the build's as-of date, the only ones it wrote.

    A test of mart_ticket_analytics (its rows carry no load number) opts in with
    `config: {where: "__tickets_loaded_since:<consumer model>__"}`: the tickets whose stg_tickets row a load of
    support_tickets committed after <consumer model>'s last build wrote — the tickets the ticket mart merged in this
    build for what they carry of their own (their key, timestamps); a singular test calls
    `tickets_loaded_since('<consumer model>')` in its own where clause. A mart row the merge rewrote only because its
    customer, product, category or root cause changed keeps every value of its own: the new dimension values are
    those the dimension's staging tests check on their new rows.

    A test of a view computed per customer when read (mart_churned_customers) opts in with
    `config: {where: "__customers_merged_by:<model>__"}`: the customers whose row <model> (customer-keyed, with a
    `_merged_at` column: the transaction time of the build that recomputed the row) recomputed in its last build; a
    singular test calls `customers_merged_by('<model>')` in its own where clause. The other customers' rows differ
    from the last build's only by inputs the view reads — the date it computes them as of, their logins (a new last
    login included: int_customer_churn_activity merges it without recomputing the row), which the login staging
    tests checked as they landed — through the formulas the tests check, covered on every branch by the unit tests
    (run by `make test` and `sa dbt -- build` on the code deployed; the nightly build skips them: fixed inputs), and
    on every row by the weekly full check.

    Every row is tested instead (the placeholder becomes `true`) when
    - the build is a --full-refresh, or the environment variable SA_DBT_FULL_TESTS is `true`;
    - no as-of date is given (an ad-hoc `dbt build`): the run checks everything;
    - the as-of date (var `as_of_date` or SA_AS_OF_DATE: the transform's run date) falls on the ISO weekday
      var `full_test_weekday` (7: Sunday) — the weekly full check.

    dbt renders a test's `where` without project macros, then wraps the tested relation with get_where_subquery:
    overriding it is dbt's documented way to template a filter.
-#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where') -%}
    {%- if where -%}
        {%- set placeholder = modules.re.search('__new_rows:(\\w+):(\\w+)__', where) -%}
        {%- if placeholder -%}
            {%- set where = where | replace(placeholder.group(0), new_rows_condition(placeholder.group(1), placeholder.group(2))) -%}
        {%- endif -%}
        {%- set tickets = modules.re.search('__tickets_loaded_since:(\\w+)__', where) -%}
        {%- if tickets -%}
            {%- set where = where | replace(tickets.group(0), tickets_loaded_since(tickets.group(1))) -%}
        {%- endif -%}
        {%- set merged_by = modules.re.search('__customers_merged_by:(\\w+)__', where) -%}
        {%- if merged_by -%}
            {%- set where = where | replace(merged_by.group(0), customers_merged_by(merged_by.group(1))) -%}
        {%- endif -%}
        {%- if '__this_as_of_date__' in where -%}
            {%- set where = where | replace('__this_as_of_date__', 'true' if tests_every_row()
                                             else 'as_of_date = ' ~ churn_as_of_date(none)) -%}
        {%- endif -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ where }}) dbt_subquery
        {%- endset -%}
        {%- do return(filtered) -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}

{% macro new_rows_condition(consumer, source_table) -%}
    {%- if tests_every_row() -%}
        true
    {%- else -%}
        _batch_id = any({{ batches_loaded_since_last_build(source_table, watermark_name(consumer)) }})
    {%- endif -%}
{%- endmacro %}

{% macro tickets_loaded_since(consumer) -%}
    {%- if tests_every_row() -%}
        true
    {%- else -%}
        {#- stg_tickets by its relation's name: no ref() from a test's where -#}
        ticket_id in (
            select loaded.ticket_id from {{ model_relation('stg_tickets') }} as loaded
            where {{ new_rows_condition(consumer, 'support_tickets') }}
        )
    {%- endif -%}
{%- endmacro %}

{#- The customers `model` recomputed in its last build, as a condition on the tested relation's customer_id: every
    row (`true`) when the build recomputed all of them — no row kept an older or newer `_merged_at`, or no build is
    recorded, or the model was never built (a compile, dbt docs) —, else `customer_id = any(array(<their ids>))`,
    which reads them through the model's `_merged_at` index and each view row through its key's indexes.
    (`customer_id in (<the same subquery>)` made the planner, which cannot tell how many that is, hash the view's
    tables whole: at scale 100 a view test took 2.2 s that way, 0.2 s this way.) The relation is named as its
    watermark row is (`schema.relation`): no ref() from a test's where. -#}
{% macro customers_merged_by(model) -%}
    {%- if tests_every_row() -%}
        true
    {%- else -%}
        {%- set relation = watermark_name(model) -%}
        {%- set built_at -%}
            (select built_at from {{ source('audit', 'build_watermarks') }} where model_name = '{{ relation }}')
        {%- endset -%}
        {%- set all_recomputed = execute and (
            not run_query("select to_regclass('" ~ relation ~ "') is not null").rows[0][0]
            or run_query("select not exists (select from " ~ relation ~ " where _merged_at < " ~ built_at ~ ")"
                         ~ " and not exists (select from " ~ relation ~ " where _merged_at > " ~ built_at ~ ")"
                         ).rows[0][0]) -%}
        {%- if all_recomputed -%}
            true
        {%- else -%}
            customer_id = any(array(
                select merged.customer_id from {{ relation }} as merged where merged._merged_at = {{ built_at }}
            ))
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}

{% macro tests_every_row() -%}
    {%- if flags.FULL_REFRESH or env_var('SA_DBT_FULL_TESTS', '') | lower == 'true' -%}
        {{ return(true) }}
    {%- endif -%}
    {%- set as_of = given_as_of_date() -%}
    {%- if not modules.re.match('^[0-9]{4}-[0-9]{2}-[0-9]{2}$', as_of) -%}
        {{ return(true) }}
    {%- endif -%}
    {%- set day = modules.datetime.date(as_of[0:4] | int, as_of[5:7] | int, as_of[8:10] | int) -%}
    {{ return(day.isoweekday() == var('full_test_weekday', 7) | int) }}
{%- endmacro %}
