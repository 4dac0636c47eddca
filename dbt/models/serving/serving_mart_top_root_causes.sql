-- serving.mart_top_root_causes: the root-cause KPIs as the reader sees them (aggregates: no PII). Listed one by
-- one, so a column added to the mart reaches the reader only once it is added here.
{{ config(alias='mart_top_root_causes') }}

-- No CTEs here (unlike the rest of the project): PostgreSQL never flattens a view that has a WITH clause
-- into the query that reads it, and the reader's `order by … limit` would no longer reach the mart's indexes.
select
    root_cause_id,
    category_id,

    root_cause_name,
    root_cause_severity,
    category_name,
    product_category,

    created_year,
    created_quarter,
    created_month,
    rank_in_period,
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
    avg_satisfaction_score,
    v12_related_tickets,
    pct_v12_related,
    v12_app_tickets,
    pct_v12_app,
    app_tickets,
    web_tickets,
    phone_tickets,
    email_tickets,
    chat_tickets,

    period_start_date

from {{ ref('mart_top_root_causes') }}
