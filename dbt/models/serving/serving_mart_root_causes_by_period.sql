-- serving.mart_root_causes_by_period: the aggregate for the reader (no PII), every column as in the mart,
-- listed one by one.
{{ config(alias='mart_root_causes_by_period') }}

-- No CTEs here (unlike the rest of the project): PostgreSQL never flattens a view that has a WITH clause
-- into the query that reads it, and the reader's `order by … limit` would no longer reach the mart's indexes.
select
    root_cause_id,
    category_id,
    period_type,
    root_cause_name,
    root_cause_severity,
    category_name,
    product_category,
    created_year,
    period_number,
    total_tickets,
    period_tickets,
    pct_of_period,
    open_tickets,
    pct_open,
    resolved_tickets,
    avg_resolution_hours,
    median_resolution_hours,
    rated_tickets,
    satisfaction_rate,
    v12_related_tickets,
    pct_v12_related,
    v12_app_tickets,
    pct_v12_app
from {{ ref('mart_root_causes_by_period') }}
