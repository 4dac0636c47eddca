-- serving.mart_tickets_by_day: the aggregate for the reader (no PII), every column as in the mart, listed one by one.
{{ config(alias='mart_tickets_by_day') }}

-- No CTEs here (unlike the rest of the project): PostgreSQL never flattens a view that has a WITH clause
-- into the query that reads it, and the reader's `order by … limit` would no longer reach the mart's indexes.
select
    product_type,
    tickets,
    v12_related_tickets,
    v12_app_tickets,
    rated_resolutions_v12,
    resolution_hours_v12,
    created_date
from {{ ref('mart_tickets_by_day') }}
