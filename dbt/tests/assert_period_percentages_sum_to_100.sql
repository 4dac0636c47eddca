-- Every month's pct_of_period in mart_top_root_causes adds up to exactly 100.00 (largest-remainder rounding),
-- and each month's group totals add up to its period_tickets.
select
    created_year,
    created_month,
    sum(pct_of_period) as pct_sum,
    sum(total_tickets) as tickets,
    min(period_tickets) as period_tickets
from {{ ref('mart_top_root_causes') }}
group by created_year, created_month
having
    sum(pct_of_period) <> 100.00
    or sum(total_tickets) <> min(period_tickets)
    or min(period_tickets) <> max(period_tickets)
