-- serving.mart_ticket_analytics: the ticket mart as the reader sees it. It holds no contact data (customers are
-- named by id), so every column passes through; listed one by one, so a column added to the mart reaches the reader
-- only once it is added here.
{{ config(alias='mart_ticket_analytics') }}

-- No CTEs here (unlike the rest of the project): PostgreSQL never flattens a view that has a WITH clause
-- into the query that reads it, and the reader's `order by … limit` would no longer reach the mart's indexes.
select
    ticket_id,
    customer_id,
    product_id,
    category_id,
    root_cause_id,

    customer_segment,
    customer_city,
    product_name,
    product_category,
    product_type,
    category_name,
    root_cause_name,
    root_cause_severity,
    root_cause_release,
    channel,
    priority,
    status,
    subject,
    app_version,
    satisfaction_level,
    resolution_speed,

    created_year,
    created_quarter,
    created_month,
    created_day,
    created_day_of_week,
    resolution_time_hours,
    actual_resolution_hours,
    first_response_hours,
    satisfaction_score,

    is_resolved,
    is_open,
    is_v12_related,
    is_on_v12_app,

    created_date,

    created_at,
    first_response_at,
    resolved_at,
    updated_at

from {{ ref('mart_ticket_analytics') }}
