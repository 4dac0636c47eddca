"""The KPI queries on the `serving` views: fixed, parameterised SQL returning typed rows.

One module for every consumer of the KPIs — the MCP server's tools (`include.mcp_server`) and the Airflow UI's KPI
page — so a figure is defined once. Each function takes an open connection as the reader role (the masked
`serving` schema is all it can see), checks its arguments before any SQL runs (`KpiInputError` names the bad one),
binds them as parameters (no SQL is ever built from a caller's text) and caps the rows it returns.

Definitions are the marts' (dbt/models/marts/_marts__models.yml): the queries read pre-aggregated marts —
`mart_top_root_causes` (months), `mart_root_causes_by_period` (quarters, years), `mart_tickets_by_day`,
`mart_churn_summary` — so that their cost does not grow with the tickets or customers; only the at-risk list reads
`mart_churned_customers`, by its CLV index. Figures are rounded to 2 decimals, as in the marts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

from include import contract

if TYPE_CHECKING:
    import psycopg

MAX_ROWS = 100  # no query returns more rows than this
RISK_LEVELS = ("active", "low", "medium", "high", "critical")
SEGMENTS = contract.SEGMENTS
RunDate = re.compile(r"^(history|\d{4}-\d{2}-\d{2})$")


class KpiInputError(ValueError):
    """An argument the KPI queries refuse (out of range, unknown value): the message says which and why."""


class MartsNotBuilt(RuntimeError):
    """The serving views are missing or empty: no build has finished yet, or one is replacing them right now."""


@dataclass(frozen=True)
class MartsBuild:
    """Which marts an answer comes from: their as-of date and when a build last finished them."""

    as_of_date: date | None
    built_at: datetime


@dataclass(frozen=True)
class Period:
    """A calendar year, optionally narrowed to a month or a quarter (UTC, as the marts' calendar)."""

    year: int
    month: int | None = None
    quarter: int | None = None

    def __post_init__(self) -> None:
        if not 2000 <= self.year <= 2100:
            raise KpiInputError(f"year must be between 2000 and 2100, got {self.year}")
        if self.month is not None and self.quarter is not None:
            raise KpiInputError("give a month or a quarter, not both")
        if self.month is not None and not 1 <= self.month <= 12:
            raise KpiInputError(f"month must be 1–12, got {self.month}")
        if self.quarter is not None and not 1 <= self.quarter <= 4:
            raise KpiInputError(f"quarter must be 1–4, got {self.quarter}")

    def describe(self) -> str:
        if self.month is not None:
            return f"{self.year}-{self.month:02d}"
        return f"{self.year}-Q{self.quarter}" if self.quarter is not None else str(self.year)


@dataclass(frozen=True)
class RootCauseRow:
    root_cause_id: str | None
    root_cause_name: str
    root_cause_severity: str | None
    category_name: str | None
    product_category: str | None
    total_tickets: int
    pct_of_period: float
    pct_open: float
    avg_resolution_hours: float | None
    median_resolution_hours: float | None
    satisfaction_rate: float | None
    pct_v12_related: float
    pct_v12_app: float


@dataclass(frozen=True)
class TopRootCauses:
    period: str
    period_tickets: int
    rows: list[RootCauseRow]


@dataclass(frozen=True)
class ProductTypeImpact:
    product_type: str
    v12_tickets: int
    avg_resolution_hours: float | None


@dataclass(frozen=True)
class WeekRow:
    week_start: date
    weeks_from_release: int
    tickets: int
    v12_related_tickets: int
    is_complete: bool


@dataclass(frozen=True)
class V12Impact:
    release_date: date
    by_product_type: list[ProductTypeImpact]
    weeks: list[WeekRow]
    tickets_per_week_before: float
    tickets_per_week_after: float


@dataclass(frozen=True)
class AtRiskCustomer:
    customer_id: str
    customer_name: str | None  # masked token (serving view): never a raw value
    email: str | None  # masked token
    phone: str | None  # masked token
    customer_segment: str | None
    customer_city: str | None
    churn_risk_level: str
    churn_risk_score: int
    estimated_clv: float
    monthly_revenue: float | None
    days_since_last_login: int | None
    open_tickets: int | None
    is_churned_30d: bool
    is_churned_90d: bool
    last_login_date: date | None


@dataclass(frozen=True)
class _AtRiskFigures:
    """An at-risk customer without the contacts (fetched, masked, for the shown customers only)."""

    customer_id: str
    customer_segment: str | None
    customer_city: str | None
    churn_risk_level: str
    churn_risk_score: int
    estimated_clv: float
    monthly_revenue: float | None
    days_since_last_login: int | None
    open_tickets: int | None
    is_churned_30d: bool
    is_churned_90d: bool
    last_login_date: date | None


_FIGURES = [f.name for f in fields(_AtRiskFigures)][1:]


@dataclass(frozen=True)
class AtRiskCustomers:
    matching_customers: int
    clv_at_risk: float
    rows: list[AtRiskCustomer]


@dataclass(frozen=True)
class ChurnCell:
    customer_segment: str | None
    churn_risk_level: str
    customers: int
    estimated_clv: float


@dataclass(frozen=True)
class SegmentAtRisk:
    """The spec's query 3: customers at high or critical risk and their CLV, per segment."""

    customer_segment: str | None
    at_risk_customers: int
    clv_at_risk: float


@dataclass(frozen=True)
class ChurnSummary:
    cells: list[ChurnCell]
    at_risk_by_segment: list[SegmentAtRisk]


@dataclass(frozen=True)
class NightStatus:
    run_date: str
    extract_state: str | None
    transform_state: str | None
    export_state: str | None
    rows_landed: int | None
    rows_quarantined: int | None
    validations_passed: int | None
    validations_failed: int | None
    models_built: int | None
    tests_passed: int | None
    tests_failed: int | None
    exported_rows: int | None
    failed_tasks: str | None
    failed_checks: str | None
    started_at: datetime | None
    finished_at: datetime | None


@dataclass(frozen=True)
class Lookups:
    """What the marts hold that arguments are checked against before a query uses them — the values the text
    filters accept — and the v1.2 release date the data shows. They change only with a build: cache per build."""

    categories: tuple[str, ...]
    product_categories: tuple[str, ...]
    product_types: tuple[str, ...]
    v12_release_date: date | None
    last_ticket_date: date | None


def _plain(value: Any) -> Any:
    return float(value) if isinstance(value, Decimal) else value


def _rows(conn: psycopg.Connection, row_type: type, query: str, params: dict[str, Any]) -> list[Any]:
    """Run `query` and build one `row_type` per row (columns in the dataclass's field order), at most MAX_ROWS."""
    cur = conn.execute(query, params)
    names = [f.name for f in fields(row_type)]
    got = [d.name for d in cur.description or []]
    if got != names:
        raise RuntimeError(f"{row_type.__name__}: query returned columns {got}, expected {names}")
    return [row_type(*(_plain(v) for v in row)) for row in cur.fetchmany(MAX_ROWS)]


def _limit(limit: int, most: int) -> int:
    if not 1 <= limit <= most:
        raise KpiInputError(f"limit must be 1–{most}, got {limit}")
    return limit


def _one_of(name: str, value: str | None, allowed: tuple[str, ...]) -> str | None:
    if value is not None and value not in allowed:
        raise KpiInputError(f"unknown {name} {value!r}; one of: {', '.join(allowed)}")
    return value


# --- freshness and vocabulary -----------------------------------------------------------------------------------

def marts_build(conn: psycopg.Connection) -> MartsBuild:
    """The as-of date and build time of the marts behind the serving views (`serving.marts_build`)."""
    import psycopg

    try:
        row = conn.execute("select as_of_date, built_at from serving.marts_build limit 1").fetchone()
    except psycopg.errors.UndefinedTable as exc:
        raise MartsNotBuilt("the marts have not been built yet (serving.marts_build is missing)") from exc
    if row is None:
        raise MartsNotBuilt("the marts have not been built yet (serving.marts_build is empty)")
    return MartsBuild(row[0], row[1])


def lookups(conn: psycopg.Connection) -> Lookups:
    """The ticket categories, product categories and product types present in the marts, the day the first ticket
    came from app v1.2 (the release date `v12_impact` measures from) and the last day with tickets."""
    def values(column: str, relation: str) -> tuple[str, ...]:
        query = f"select distinct {column} from serving.{relation} where {column} is not null order by 1 limit 1000"
        return tuple(r[0] for r in conn.execute(query))

    release, last = conn.execute("select min(created_date) filter (where v12_app_tickets > 0), max(created_date)"
                                 " from serving.mart_tickets_by_day").fetchone()
    return Lookups(values("category_name", "mart_top_root_causes"), values("product_category", "mart_top_root_causes"),
                   values("product_type", "mart_tickets_by_day"), release, last)


# --- root causes --------------------------------------------------------------------------------------------------

TOP_MAX = 50
_MONTH = """
select
    root_cause_id, root_cause_name, root_cause_severity, category_name, product_category, total_tickets,
    pct_of_period::float8, pct_open::float8, avg_resolution_hours::float8, median_resolution_hours::float8,
    satisfaction_rate::float8, pct_v12_related::float8, pct_v12_app::float8
from serving.mart_top_root_causes
where created_year = %(year)s and created_month = %(month)s
    and (%(category)s::text is null or category_name = %(category)s)
    and (%(product_category)s::text is null or product_category = %(product_category)s)
order by total_tickets desc, root_cause_name, category_id, product_category
limit %(limit)s
"""
_MONTH_TICKETS = """
select coalesce(max(period_tickets), 0) from serving.mart_top_root_causes
where created_year = %(year)s and created_month = %(month)s
"""
_SPAN = """
select
    root_cause_id, root_cause_name, root_cause_severity, category_name, product_category, total_tickets,
    pct_of_period::float8, pct_open::float8, avg_resolution_hours::float8, median_resolution_hours::float8,
    satisfaction_rate::float8, pct_v12_related::float8, pct_v12_app::float8
from serving.mart_root_causes_by_period
where period_type = %(period_type)s and created_year = %(year)s and period_number = %(period_number)s
    and (%(category)s::text is null or category_name = %(category)s)
    and (%(product_category)s::text is null or product_category = %(product_category)s)
order by total_tickets desc, root_cause_name, category_id, product_category
limit %(limit)s
"""
_SPAN_TICKETS = """
select coalesce(max(period_tickets), 0) from serving.mart_root_causes_by_period
where period_type = %(period_type)s and created_year = %(year)s and period_number = %(period_number)s
"""


def top_root_causes(conn: psycopg.Connection, period: Period, *, category: str | None = None,
                    product_category: str | None = None, limit: int = 5,
                    known: Lookups | None = None) -> TopRootCauses:
    """The root causes with the most tickets in `period` (by ticket category and product category), biggest first.

    pct_of_period is the share of ALL the period's tickets (a filter narrows the rows, not the denominator)."""
    known = known or lookups(conn)
    params = {"year": period.year, "month": period.month,
              "period_type": "year" if period.quarter is None else "quarter", "period_number": period.quarter or 0,
              "category": _one_of("category", category, known.categories),
              "product_category": _one_of("product category", product_category, known.product_categories),
              "limit": _limit(limit, TOP_MAX)}
    month = period.month is not None
    rows = _rows(conn, RootCauseRow, _MONTH if month else _SPAN, params)
    total = conn.execute(_MONTH_TICKETS if month else _SPAN_TICKETS, params).fetchone()[0]
    return TopRootCauses(period.describe(), int(total), rows)


# --- v1.2 ---------------------------------------------------------------------------------------------------------

WEEKS_MAX = 26
# The spec's query 2 (v1.2 tickets and their mean resolution time per product type), from the daily aggregate.
_BY_PRODUCT_TYPE = """
select
    product_type,
    sum(v12_related_tickets)::bigint as v12_tickets,
    round(sum(resolution_hours_v12) / nullif(sum(rated_resolutions_v12), 0), 2)::float8 as avg_resolution_hours
from serving.mart_tickets_by_day
where (%(product_type)s::text is null or product_type = %(product_type)s)
group by product_type
having sum(v12_related_tickets) > 0
order by v12_tickets desc, product_type
limit 100
"""
_WEEKS = """
with bounds as (
    select date_trunc('week', %(release)s::date)::date as release_week, %(last_day)s::date as last_day
),
weeks as (
    select generate_series(
        bounds.release_week - 7 * %(weeks)s,
        least(bounds.release_week + 7 * (%(weeks)s - 1), date_trunc('week', bounds.last_day)::date),
        interval '7 days'
    )::date as week_start
    from bounds
),
counts as (
    select
        date_trunc('week', created_date)::date as week_start,
        sum(tickets) as tickets,
        sum(v12_related_tickets) as v12_related_tickets
    from serving.mart_tickets_by_day, bounds
    where created_date >= bounds.release_week - 7 * %(weeks)s
        and created_date < bounds.release_week + 7 * %(weeks)s
        and (%(product_type)s::text is null or product_type = %(product_type)s)
    group by 1
)
select
    weeks.week_start,
    ((weeks.week_start - bounds.release_week) / 7)::int as weeks_from_release,
    coalesce(counts.tickets, 0)::bigint as tickets,
    coalesce(counts.v12_related_tickets, 0)::bigint as v12_related_tickets,
    weeks.week_start + 6 <= bounds.last_day as is_complete
from weeks
cross join bounds
left join counts on counts.week_start = weeks.week_start
order by weeks.week_start
limit 100
"""


def v12_impact(conn: psycopg.Connection, *, weeks: int = 8, product_type: str | None = None,
               release_date: date | None = None, known: Lookups | None = None) -> V12Impact:
    """v1.2 regression tickets per product type (spec query 2) and all tickets per week, `weeks` before and after
    the release (default: the first day a ticket came from app v1.2). Averages per week count complete weeks."""
    if not 1 <= weeks <= WEEKS_MAX:
        raise KpiInputError(f"weeks must be 1–{WEEKS_MAX}, got {weeks}")
    known = known or lookups(conn)
    product_type = _one_of("product type", product_type, known.product_types)
    release = release_date or known.v12_release_date
    if release is None:
        raise MartsNotBuilt("no ticket from app v1.2 in the marts: no release date to measure from")
    params = {"product_type": product_type, "weeks": weeks, "release": release, "last_day": known.last_ticket_date}
    series = _rows(conn, WeekRow, _WEEKS, params)
    before = [w.tickets for w in series if w.weeks_from_release < 0 and w.is_complete]
    after = [w.tickets for w in series if w.weeks_from_release >= 0 and w.is_complete]
    return V12Impact(release, _rows(conn, ProductTypeImpact, _BY_PRODUCT_TYPE, params), series,
                     round(sum(before) / len(before), 2) if before else 0.0,
                     round(sum(after) / len(after), 2) if after else 0.0)


DAYS_AROUND_MAX = 45  # 91 days: within MAX_ROWS
_DAYS = """
select
    created_date,
    (created_date - %(release)s::date)::int as days_from_release,
    sum(tickets)::bigint as tickets,
    sum(v12_related_tickets)::bigint as v12_related_tickets
from serving.mart_tickets_by_day
where created_date between %(release)s::date - %(days)s and %(release)s::date + %(days)s
group by created_date
order by created_date
limit 200
"""


@dataclass(frozen=True)
class DayRow:
    created_date: date
    days_from_release: int
    tickets: int
    v12_related_tickets: int


def tickets_per_day_around_release(conn: psycopg.Connection, *, days: int = 21,
                                   known: Lookups | None = None) -> tuple[date, list[DayRow]]:
    """Tickets per day, `days` before and after the v1.2 release, with how many were v1.2-related."""
    if not 1 <= days <= DAYS_AROUND_MAX:
        raise KpiInputError(f"days must be 1–{DAYS_AROUND_MAX}, got {days}")
    known = known or lookups(conn)
    if known.v12_release_date is None:
        raise MartsNotBuilt("no ticket from app v1.2 in the marts: no release date to measure from")
    rows = _rows(conn, DayRow, _DAYS, {"release": known.v12_release_date, "days": days})
    return known.v12_release_date, rows


# --- churn --------------------------------------------------------------------------------------------------------

AT_RISK_MAX = 100
_WINDOW = "(%(window)s::int is null or (%(window)s = 30 and is_churned_30d) or (%(window)s = 90 and is_churned_90d))"
_CHURN_FILTER = f"""
    (%(segment)s::text is null or customer_segment = %(segment)s)
    and churn_risk_level = any(%(levels)s::text[])
    and {_WINDOW}
"""
# The list: customers by the CLV index, highest first. Two steps, so that a token is computed only for the customers
# shown: the serving view masks in its select list, and PostgreSQL would compute that list for every matching
# customer before sorting and limiting them.
_AT_RISK = f"""
select
    customer_id, customer_segment, customer_city, churn_risk_level, churn_risk_score, estimated_clv::float8,
    monthly_revenue::float8, days_since_last_login, open_tickets, is_churned_30d, is_churned_90d, last_login_date
from serving.mart_churned_customers as churn
where {_CHURN_FILTER}
order by churn.estimated_clv desc, churn.customer_id  -- the column, not the float8 above: the index serves it
limit %(limit)s
"""
_CONTACTS = """
select customer_id, customer_name, email, phone from serving.mart_churned_customers
where customer_id = any(%(ids)s::text[])
limit 100
"""
_AT_RISK_TOTAL = f"""
select coalesce(sum(customers), 0)::bigint, coalesce(sum(estimated_clv), 0)::float8
from serving.mart_churn_summary
where {_CHURN_FILTER}
"""
# Customers and CLV per segment and level (the levels' filter is applied in Python, so that the spec's query 3 —
# high and critical per segment — comes from the same rows whatever levels were asked for).
_SUMMARY = f"""
select customer_segment, churn_risk_level, sum(customers)::bigint as customers,
    sum(estimated_clv)::float8 as estimated_clv
from serving.mart_churn_summary
where (%(segment)s::text is null or customer_segment = %(segment)s) and {_WINDOW}
group by customer_segment, churn_risk_level
order by customer_segment, array_position(%(all_levels)s::text[], churn_risk_level)
limit 100
"""
AT_RISK_LEVELS = ("high", "critical")  # the spec's query 3


def _churn_params(segment: str | None, risk_levels: tuple[str, ...] | list[str],
                  window: Literal[30, 90] | None) -> dict[str, Any]:
    if not risk_levels:
        raise KpiInputError("risk_levels must name at least one level")
    for level in risk_levels:
        _one_of("risk level", level, RISK_LEVELS)
    if window not in (None, 30, 90):
        raise KpiInputError(f"churn window must be 30 or 90 (days), got {window}")
    return {"segment": _one_of("segment", segment, SEGMENTS), "levels": sorted(set(risk_levels)),
            "window": window, "all_levels": list(RISK_LEVELS)}


def at_risk_customers(conn: psycopg.Connection, *, segment: str | None = None,
                      risk_levels: tuple[str, ...] | list[str] = ("high", "critical"),
                      window: Literal[30, 90] | None = None, limit: int = 20) -> AtRiskCustomers:
    """Customers matching segment / risk levels / churn window (churned within the last 30 or 90 days), highest
    estimated CLV first; contacts are the serving view's masked tokens."""
    params = {**_churn_params(segment, risk_levels, window), "limit": _limit(limit, AT_RISK_MAX)}
    matching, clv = conn.execute(_AT_RISK_TOTAL, params).fetchone()
    found = _rows(conn, _AtRiskFigures, _AT_RISK, params)
    contacts = {r[0]: r[1:] for r in conn.execute(_CONTACTS, {"ids": [f.customer_id for f in found]})}
    rows = [AtRiskCustomer(f.customer_id, *contacts.get(f.customer_id, (None, None, None)),
                           *(getattr(f, name) for name in _FIGURES)) for f in found]
    return AtRiskCustomers(int(matching), float(clv), rows)


def churn_summary(conn: psycopg.Connection, *, segment: str | None = None,
                  risk_levels: tuple[str, ...] | list[str] = RISK_LEVELS,
                  window: Literal[30, 90] | None = None) -> ChurnSummary:
    """Customers and estimated CLV per segment and risk level (filtered), and the spec's query 3 per segment:
    customers at high or critical risk and their CLV (within the segment and churn-window filters)."""
    params = _churn_params(segment, risk_levels, window)
    cells = _rows(conn, ChurnCell, _SUMMARY, params)
    at_risk: dict[str | None, tuple[int, float]] = {}
    for cell in cells:
        if cell.churn_risk_level in AT_RISK_LEVELS:
            count, clv = at_risk.get(cell.customer_segment, (0, 0.0))
            at_risk[cell.customer_segment] = (count + cell.customers, clv + cell.estimated_clv)
    return ChurnSummary([c for c in cells if c.churn_risk_level in params["levels"]],
                        [SegmentAtRisk(segment, n, round(clv, 2)) for segment, (n, clv) in at_risk.items()])


# --- the pipeline -------------------------------------------------------------------------------------------------

DAYS_MAX = 60
_STATUS = """
select
    run_date, extract_state, transform_state, export_state, rows_landed, rows_quarantined, validations_passed,
    validations_failed, models_built, tests_passed, tests_failed, exported_rows, failed_tasks, failed_checks,
    started_at, finished_at
from serving.pipeline_status
where (%(run_date)s::text is null or run_date = %(run_date)s)
order by run_date desc
limit %(days)s
"""


def pipeline_status(conn: psycopg.Connection, *, run_date: str | None = None, days: int = 7) -> list[NightStatus]:
    """Per date (newest first, `days` of them, or just `run_date`): each DAG's state, rows landed and quarantined,
    checks passed and failed (by name, never a value), exported rows — from `serving.pipeline_status`."""
    if run_date is not None and not RunDate.match(run_date):
        raise KpiInputError(f"run_date must be YYYY-MM-DD or 'history', got {run_date!r}")
    if run_date not in (None, contract.HISTORY):
        try:
            date.fromisoformat(run_date)  # type: ignore[arg-type]
        except ValueError:
            raise KpiInputError(f"run_date {run_date!r} is not a calendar date") from None
    return _rows(conn, NightStatus, _STATUS, {"run_date": run_date, "days": _limit(days, DAYS_MAX)})
