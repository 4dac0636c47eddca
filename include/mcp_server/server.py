"""The MCP server: five read-only tools over the masked `serving` views, as the reader role.

What it can and cannot do, by construction:
- it connects as the reader role, which reads the `serving` views only: contacts there are keyed HMAC tokens, so no
  raw name, e-mail or phone can come out of it, whatever a tool is asked; the role cannot write anything;
- every tool runs fixed, parameterised SQL from `include.kpi.queries` (there is no free-form SQL tool); arguments are
  checked against a typed schema (types, ranges, enumerations; unknown arguments are refused) before the tool runs,
  text filters against the values the marts hold before any query uses them;
- every query runs under `statement_timeout` (SA_MCP_STATEMENT_TIMEOUT_MS) and returns at most a bounded number of
  rows; connections come from a pool (SA_MCP_POOL_SIZE), one REPEATABLE READ snapshot per answer;
- every answer says which marts it comes from: their as-of date and when a build last finished them
  (`serving.marts_build`, stamped by dbt after every mart was built, tested and served).
"""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.tools import Tool
from mcp.types import ToolAnnotations
from pydantic import BaseModel, ConfigDict, Field

from include.config import Settings, get_settings
from include.kpi import queries as kpi
from include.warehouse.pool import reader_pool

if TYPE_CHECKING:
    import psycopg
    from mcp.server.auth.provider import TokenVerifier
    from mcp.server.auth.settings import AuthSettings
    from psycopg_pool import ConnectionPool

T = TypeVar("T")
NAME = "support-analytics"
READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False)
REBUILD_RETRY_S = 1.0  # a serving view is missing for a moment while dbt rebuilds its mart: retry once after this
Segment = Literal["Standard", "Premium", "Business", "Student"]
RiskLevel = Literal["active", "low", "medium", "high", "critical"]
INSTRUCTIONS = (
    "Read-only KPIs of the support-analytics warehouse (fintech support tickets and customer churn), from marts "
    "rebuilt nightly. Every answer carries `marts.as_of_date` (the date churn is evaluated as of) and "
    "`marts.built_at` (when the marts were last built): quote them. Customer contacts are masked tokens; act on "
    "customer ids. Periods are calendar months/quarters/years in UTC."
)


class Marts(BaseModel):
    """Which marts an answer comes from."""

    as_of_date: date | None = Field(description="The date churn is evaluated as of in these marts.")
    built_at: datetime = Field(description="When a dbt build last finished every mart (UTC).")


class TopRootCausesAnswer(BaseModel):
    marts: Marts
    period: str = Field(description="The period asked for: YYYY-MM, YYYY-Qn or YYYY.")
    period_tickets: int = Field(description="All tickets created in the period (the denominator of pct_of_period).")
    root_causes: list[kpi.RootCauseRow] = Field(description="Biggest first. pct_* are percentages (0-100); "
                                                "pct_v12_app is the v1.2 correlation (share of tickets raised "
                                                "from app v1.2).")


class V12ImpactAnswer(BaseModel):
    marts: Marts
    release_date: date = Field(description="The release the weeks are counted from (week 0 contains it).")
    by_product_type: list[kpi.ProductTypeImpact] = Field(description="Tickets whose root cause is a v1.2 "
                                                         "regression, per product type (all time).")
    weeks: list[kpi.WeekRow] = Field(description="All tickets (and v1.2-related ones) per ISO week; "
                                     "is_complete=false for a week the data does not cover to its end.")
    tickets_per_week_before: float = Field(description="Mean tickets per complete week before the release.")
    tickets_per_week_after: float = Field(description="Mean tickets per complete week from the release on.")


class AtRiskCustomersAnswer(BaseModel):
    marts: Marts
    matching_customers: int = Field(description="How many customers match the filters (not just those listed).")
    clv_at_risk: float = Field(description="Sum of estimated CLV over all matching customers.")
    customers: list[kpi.AtRiskCustomer] = Field(description="Highest estimated CLV first. customer_name, email and "
                                                "phone are masked tokens, never contact data.")


class ChurnSummaryAnswer(BaseModel):
    marts: Marts
    by_segment_and_level: list[kpi.ChurnCell] = Field(description="Customers and summed estimated CLV per segment "
                                                      "and risk level (within the filters).")
    at_risk_by_segment: list[kpi.SegmentAtRisk] = Field(description="Customers at high or critical risk and their "
                                                        "CLV per segment (the spec's query 3).")


class PipelineStatusAnswer(BaseModel):
    marts: Marts | None = Field(description="The marts' as-of date and build time; null if never built.")
    nights: list[kpi.NightStatus] = Field(description="Newest first: per date, each DAG's latest state "
                                          "(success/failed/running, null = did not run), rows landed and "
                                          "quarantined, checks failed (by name), rows exported.")


@dataclass
class _Cached:
    built_at: datetime
    lookups: kpi.Lookups


class ServingReader:
    """The server's access to the warehouse: the reader pool, and the lookups of the current build (cached)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.pool: ConnectionPool | None = None
        self._users = 0
        self._cached: _Cached | None = None
        self._lock = threading.Lock()

    def acquire(self) -> None:
        """A session starts: the first one opens the pool (a stdio or in-memory session runs the server's lifespan
        each; over HTTP it runs once for all sessions)."""
        with self._lock:
            if self._users == 0:
                self.pool = reader_pool(self.settings, size=self.settings.mcp_pool_size, name="mcp",
                                        statement_timeout_ms=self.settings.mcp_statement_timeout_ms)
                self.pool.open()
            self._users += 1

    def release(self) -> None:
        """A session ends: the last one closes the pool."""
        with self._lock:
            self._users -= 1
            if self._users == 0 and self.pool is not None:
                self.pool.close()
                self.pool = None

    def _lookups(self, conn: psycopg.Connection, build: kpi.MartsBuild) -> kpi.Lookups:
        with self._lock:
            if self._cached is None or self._cached.built_at != build.built_at:
                self._cached = _Cached(build.built_at, kpi.lookups(conn))
            return self._cached.lookups

    def answer(self, query: Callable[[psycopg.Connection, kpi.Lookups | None], T],
               needs_marts: bool = True) -> tuple[Marts | None, T]:
        """Run `query` in one snapshot with the marts' stamp; every failure becomes one clear tool error."""
        import psycopg
        from psycopg_pool import PoolTimeout

        if self.pool is None:
            raise ToolError("the server is not running (no open session)")
        for attempt in (1, 2):
            try:
                with self.pool.connection() as conn:
                    try:
                        build: kpi.MartsBuild | None = kpi.marts_build(conn)
                    except kpi.MartsNotBuilt:
                        if needs_marts:
                            raise
                        conn.rollback()
                        build = None
                    known = self._lookups(conn, build) if build is not None and needs_marts else None
                    result = query(conn, known)
                marts = Marts(as_of_date=build.as_of_date, built_at=build.built_at) if build else None
                return marts, result
            except kpi.KpiInputError as exc:
                raise ToolError(str(exc)) from None
            except kpi.MartsNotBuilt as exc:
                raise ToolError(f"{exc}; run the transform (support_transform) first") from None
            except psycopg.errors.UndefinedTable:
                if attempt == 1:  # dbt is replacing a view right now
                    time.sleep(REBUILD_RETRY_S)
                    continue
                raise ToolError("the marts are being rebuilt right now; ask again in a minute") from None
            except psycopg.errors.QueryCanceled:
                raise ToolError(f"the query took longer than {self.settings.mcp_statement_timeout_ms} ms and was "
                                "cancelled; narrow it (a month instead of a year, a smaller limit)") from None
            except (psycopg.OperationalError, PoolTimeout) as exc:
                raise ToolError(f"the warehouse cannot be reached: {type(exc).__name__}") from None
        raise AssertionError("unreachable")


def _date_arg(text: str | None, name: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ToolError(f"{name} {text!r} is not a calendar date (YYYY-MM-DD)") from None


def _tools(reader: ServingReader) -> list[Tool]:
    def top_root_causes(
        year: Annotated[int, Field(strict=True, ge=2000, le=2100, description="Calendar year, e.g. 2025.")],
        month: Annotated[int | None, Field(strict=True, ge=1, le=12, description="Month 1-12 (optional).")] = None,
        quarter: Annotated[int | None, Field(strict=True, ge=1, le=4,
                                             description="Quarter 1-4 (optional; not with month).")] = None,
        category: Annotated[str | None, Field(min_length=1, max_length=100, description=(
            "Ticket category name as in the data, e.g. 'Payments', 'Login & Access' (optional)."))] = None,
        product_category: Annotated[str | None, Field(min_length=1, max_length=100, description=(
            "Product category, e.g. 'Lending', 'Cards' (optional)."))] = None,
        limit: Annotated[int, Field(strict=True, ge=1, le=kpi.TOP_MAX, description="Rows to return.")] = 5,
    ) -> TopRootCausesAnswer:
        """Top root causes of support tickets in a period: a year, or a month or quarter of it.

        One row per root cause × ticket category × product category, most tickets first, with: total tickets, % of
        all the period's tickets, % still open, mean and median resolution hours, satisfaction rate (% rated 4-5),
        and the v1.2 correlation (% of tickets raised from app v1.2; % whose root cause is a v1.2 regression).
        Filters narrow the rows, not the denominator. Example: {"year": 2025, "month": 10, "limit": 5}."""
        try:
            period = kpi.Period(year, month, quarter)
        except kpi.KpiInputError as exc:
            raise ToolError(str(exc)) from None
        marts, result = reader.answer(lambda conn, known: kpi.top_root_causes(
            conn, period, category=category, product_category=product_category, limit=limit, known=known))
        assert marts is not None
        return TopRootCausesAnswer(marts=marts, period=result.period, period_tickets=result.period_tickets,
                                   root_causes=result.rows)

    def v12_impact(
        weeks: Annotated[int, Field(strict=True, ge=1, le=kpi.WEEKS_MAX,
                                    description="Weeks to show before and after the release.")] = 8,
        product_type: Annotated[str | None, Field(min_length=1, max_length=100, description=(
            "Only tickets about this product type, e.g. 'Digital Lending', 'Payments' (optional)."))] = None,
        release_date: Annotated[str | None, Field(pattern=r"^\d{4}-\d{2}-\d{2}$", description=(
            "YYYY-MM-DD to count weeks from; default: the first day a ticket came from app v1.2."))] = None,
    ) -> V12ImpactAnswer:
        """Impact of app release v1.2: tickets whose root cause is a v1.2 regression per product type (with mean
        resolution hours), and all tickets per week before and after the release with the mean per week on each
        side. Example: {"weeks": 8} or {"product_type": "Digital Lending"}."""
        release = _date_arg(release_date, "release_date")
        marts, result = reader.answer(lambda conn, known: kpi.v12_impact(
            conn, weeks=weeks, product_type=product_type, release_date=release, known=known))
        assert marts is not None
        return V12ImpactAnswer(marts=marts, release_date=result.release_date, by_product_type=result.by_product_type,
                               weeks=result.weeks, tickets_per_week_before=result.tickets_per_week_before,
                               tickets_per_week_after=result.tickets_per_week_after)

    def at_risk_customers(
        segment: Annotated[Segment | None, Field(description="Customer segment (optional).")] = None,
        risk_levels: Annotated[tuple[RiskLevel, ...], Field(min_length=1, max_length=5, description=(
            "Churn risk levels to include."))] = ("high", "critical"),
        churn_window: Annotated[Literal[30, 90] | None, Field(description=(
            "Only customers who churned within the last 30 or 90 days (no login for 30+ days); optional."))] = None,
        limit: Annotated[int, Field(strict=True, ge=1, le=kpi.AT_RISK_MAX, description="Rows to return.")] = 20,
    ) -> AtRiskCustomersAnswer:
        """Customers at risk of churning, highest estimated customer lifetime value (CLV) first: id, segment, city,
        risk level and score (0-100), CLV, monthly revenue, days since last login, open tickets, churn flags.
        Contacts are masked tokens: act on customer ids. Also how many customers match and their total CLV.
        Example: {"segment": "Premium", "churn_window": 30, "limit": 10}."""
        marts, result = reader.answer(lambda conn, known: kpi.at_risk_customers(
            conn, segment=segment, risk_levels=risk_levels, window=churn_window, limit=limit))
        assert marts is not None
        return AtRiskCustomersAnswer(marts=marts, matching_customers=result.matching_customers,
                                     clv_at_risk=result.clv_at_risk, customers=result.rows)

    def churn_summary(
        segment: Annotated[Segment | None, Field(description="Only this segment (optional).")] = None,
        risk_levels: Annotated[tuple[RiskLevel, ...], Field(min_length=1, max_length=5, description=(
            "Risk levels to include (default all)."))] = kpi.RISK_LEVELS,
        churn_window: Annotated[Literal[30, 90] | None, Field(description=(
            "Only customers who churned within the last 30 or 90 days (optional)."))] = None,
    ) -> ChurnSummaryAnswer:
        """Churn at a glance: customers and their summed estimated CLV per segment and risk level, and per segment
        the customers at high or critical risk with the CLV at stake. Example: {} or {"churn_window": 90}."""
        marts, result = reader.answer(lambda conn, known: kpi.churn_summary(
            conn, segment=segment, risk_levels=risk_levels, window=churn_window))
        assert marts is not None
        return ChurnSummaryAnswer(marts=marts, by_segment_and_level=result.cells,
                                  at_risk_by_segment=result.at_risk_by_segment)

    def pipeline_status(
        run_date: Annotated[str | None, Field(pattern=r"^(history|\d{4}-\d{2}-\d{2})$", description=(
            "One date (YYYY-MM-DD, or 'history' for the initial load); default: the latest dates."))] = None,
        days: Annotated[int, Field(strict=True, ge=1, le=kpi.DAYS_MAX, description="How many dates.")] = 7,
    ) -> PipelineStatusAnswer:
        """How the nightly pipeline went, per date: which DAGs ran (extract, transform, export) and their state,
        rows landed and quarantined, data checks passed and failed (failed ones by name), rows exported, start and
        end — and when the marts were last built. Example: {} or {"run_date": "2025-11-02"}."""
        marts, nights = reader.answer(lambda conn, known: kpi.pipeline_status(conn, run_date=run_date, days=days),
                                      needs_marts=False)
        return PipelineStatusAnswer(marts=marts, nights=nights)

    return [
        _strict(top_root_causes, "kpi.top_root_causes", "Top root causes"),
        _strict(v12_impact, "kpi.v12_impact", "v1.2 release impact"),
        _strict(at_risk_customers, "churn.at_risk_customers", "Customers at risk of churn"),
        _strict(churn_summary, "churn.summary", "Churn summary"),
        _strict(pipeline_status, "pipeline.status", "Nightly pipeline status"),
    ]


def _strict(fn: Callable[..., Any], name: str, title: str) -> Tool:
    """The tool of `fn`, refusing arguments it does not know (a misspelt filter must not be silently ignored), with
    a compact output schema."""
    tool = Tool.from_function(fn, name=name, title=title, annotations=READ_ONLY, structured_output=True)
    loose = tool.fn_metadata.arg_model
    strict = type(loose.__name__, (loose,), {"model_config": ConfigDict(**{**loose.model_config, "extra": "forbid"})})
    tool.fn_metadata.arg_model = strict
    tool.parameters = strict.model_json_schema(by_alias=True)
    if tool.fn_metadata.output_schema is not None:
        tool.fn_metadata.output_schema = compact_schema(tool.fn_metadata.output_schema)
    return tool


def compact_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """The same JSON Schema with `$ref`s inlined and `anyOf: [{type: X}, {type: null}]` written `type: [X, null]`.

    Clients validate every result against the output schema; a Python client (jsonschema) spent longer doing that
    on the $ref/anyOf form pydantic writes than the server spent answering (13 ms for 20 customers)."""
    definitions = schema.get("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, list):
            return [walk(item) for item in node]
        if not isinstance(node, dict):
            return node
        if "$ref" in node:
            target = walk(definitions[node["$ref"].rsplit("/", 1)[-1]])
            return {**target, **{k: walk(v) for k, v in node.items() if k != "$ref"}}
        out = {k: walk(v) for k, v in node.items() if k != "$defs"}
        options = out.get("anyOf")
        if isinstance(options, list) and len(options) == 2 and {"type": "null"} in options:
            other = next(o for o in options if o != {"type": "null"})
            if isinstance(other.get("type"), str) and not set(other) - {"type", "format"}:
                out.pop("anyOf")
                out.update(other, type=[other["type"], "null"])
        return out

    return walk(schema)  # type: ignore[no-any-return]


def build_server(settings: Settings | None = None, *, token_verifier: TokenVerifier | None = None,
                 auth: AuthSettings | None = None) -> MCPServer[Any]:
    """The MCP server over `settings`' warehouse; its pool opens when a session starts and closes after."""
    reader = ServingReader(settings or get_settings())

    @asynccontextmanager
    async def lifespan(_: MCPServer[Any]) -> AsyncIterator[ServingReader]:
        import anyio.to_thread

        await anyio.to_thread.run_sync(reader.acquire)
        try:
            yield reader
        finally:
            await anyio.to_thread.run_sync(reader.release)

    # WARNING: no log line per request (uvicorn's access log, the SDK's per-call INFO) on the hot path.
    return MCPServer(NAME, title="Support analytics KPIs", instructions=INSTRUCTIONS, version="1.0",
                     tools=_tools(reader), lifespan=lifespan, token_verifier=token_verifier, auth=auth,
                     log_level="WARNING")
