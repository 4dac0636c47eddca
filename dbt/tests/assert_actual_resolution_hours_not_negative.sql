-- A ticket cannot be resolved before it was created: the tickets loaded since the period marts' last build, every
-- ticket on the weekly full check (macros/tests_on_new_rows.sql).
select
    ticket_id,
    created_at,
    resolved_at,
    actual_resolution_hours
from {{ ref('mart_ticket_analytics') }}
where actual_resolution_hours < 0 and {{ tickets_loaded_since('mart_top_root_causes') }}
