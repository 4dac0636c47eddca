-- Support tickets, cleaned and categorised. The only model that reads source('analytics', 'support_tickets').
-- Rules (documented per column in _staging__models.yml):
--   is_resolved:        status is resolved or closed;
--   satisfaction_level: score 4–5 satisfied, 3 neutral, 1–2 unsatisfied, null when not rated;
--   resolution_speed:   resolution time <= 24 h fast, <= 72 h normal, > 72 h slow, null while unresolved.
with

source as (

    select * from {{ source('analytics', 'support_tickets') }}

),

cleaned as (

    select
        trim(ticket_id) as ticket_id,
        trim(customer_id) as customer_id,
        trim(product_id) as product_id,
        trim(category_id) as category_id,
        nullif(trim(root_cause_id), '') as root_cause_id,

        lower(trim(channel)) as channel,
        lower(trim(priority)) as priority,
        lower(trim(status)) as status,
        nullif(regexp_replace(lower(trim(subject)), '\s+', ' ', 'g'), '') as subject,
        nullif(lower(trim(app_version)), '') as app_version,

        resolution_time_hours,
        satisfaction_score,

        created_at,
        first_response_at,
        resolved_at,
        updated_at,

        _batch_id

    from source

),

categorised as (

    select
        *,
        status in ('resolved', 'closed') as is_resolved,
        -- the source's figure; computed from the timestamps only when the source left it empty
        coalesce(
            resolution_time_hours,
            round(extract(epoch from resolved_at - created_at) / 3600, 2)
        ) as resolution_hours

    from cleaned

),

final as (

    select
        ticket_id,
        customer_id,
        product_id,
        category_id,
        root_cause_id,

        channel,
        priority,
        status,
        subject,
        app_version,
        case
            when satisfaction_score >= 4 then 'satisfied'
            when satisfaction_score = 3 then 'neutral'
            when satisfaction_score <= 2 then 'unsatisfied'
        end as satisfaction_level,
        case
            when not is_resolved or resolution_hours is null then null
            when resolution_hours <= 24 then 'fast'
            when resolution_hours <= 72 then 'normal'
            else 'slow'
        end as resolution_speed,

        resolution_time_hours,
        satisfaction_score,

        is_resolved,

        created_at,
        first_response_at,
        resolved_at,
        updated_at,

        _batch_id  -- the load that wrote the row: its committed sequence drives incremental marts

    from categorised

)

select * from final
