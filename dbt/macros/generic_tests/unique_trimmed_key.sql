{#-
    `unique` for a staging key that is the trimmed primary key of its source table (`source_relation`, column
    `column_name` there too), at the cost of the rows it can concern.

    On a night that tests new rows (the test's `where`, macros/tests_on_new_rows.sql) it is dbt's `unique` on them
    (dbt's own macro). When every row is tested (the weekly full check, a --full-refresh, an ad-hoc build) it does
    not group every row by its trimmed key (at scale 100 a 17M-row hash aggregate spilling to disk: 42-46 s of the
    full-check night): the source's primary key makes the raw values unique, so two rows share a trimmed key only
    when one of them has blanks around its key. Those rows (one scan of the table), and the rows whose raw key is
    their trimmed key (through the primary key), hold every duplicate; the test groups only them. Same failing keys
    as `unique` on every row.
-#}
{% test unique_trimmed_key(model, column_name, source_relation) %}

{%- if tests_every_row() %}

with padded as (

    select trim({{ column_name }}) as key
    from {{ source_relation }}
    where {{ column_name }} <> trim({{ column_name }})

),

candidates as (

    select key from padded
    union all
    select unpadded.{{ column_name }} as key
    from {{ source_relation }} as unpadded
    where unpadded.{{ column_name }} in (select padded.key from padded)

)

select key as unique_field, count(*) as n_records
from candidates
group by key
having count(*) > 1

{%- else %}

{{ adapter.dispatch('test_unique', 'dbt')(model, column_name) }}

{%- endif %}

{% endtest %}
