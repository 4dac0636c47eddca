-- Post-hook of a table model: an index on `columns` of this relation (unique if asked), unless one with exactly
-- those columns is there already, whatever its name. A fixed `create index if not exists <name>` is not enough: on a
-- --full-refresh dbt runs the post-hooks while the old table, renamed to its backup, still holds that name until the
-- commit, and the new table went without the index until the next build. PostgreSQL names the index
-- (<table>_<columns>_idx, with a number added while the backup holds that name).
{% macro ensure_index(columns, unique=false) -%}
do $ensure_index$
begin
    if not exists (
        select from pg_index as i
        where
            i.indrelid = '{{ this }}'::regclass
            and i.indisunique = {{ 'true' if unique else 'false' }}
            and i.indexprs is null
            and i.indpred is null
            and array(
                select a.attname::text
                from unnest(i.indkey::int2 []) with ordinality as k (attnum, position)
                inner join pg_attribute as a on a.attrelid = i.indrelid and a.attnum = k.attnum
                order by k.position
            ) = {{ text_array(columns) }}
    ) then
        create {{ 'unique ' if unique }}index on {{ this }} ({{ columns | join(', ') }});
    end if;
end
$ensure_index$
{%- endmacro %}
