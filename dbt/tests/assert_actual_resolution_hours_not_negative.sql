-- A ticket cannot be resolved before it was created.
select
    ticket_id,
    created_at,
    resolved_at,
    actual_resolution_hours
from {{ ref('mart_ticket_analytics') }}
where actual_resolution_hours < 0
