-- mart_ticket_analytics has exactly the tickets of stg_tickets (left joins never drop or repeat a ticket).
with staged as (select count(*) as n from {{ ref('stg_tickets') }}),
mart as (select count(*) as n from {{ ref('mart_ticket_analytics') }})
select staged.n as staged_tickets, mart.n as mart_tickets
from staged cross join mart
where staged.n <> mart.n
