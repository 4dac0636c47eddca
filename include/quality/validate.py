"""Run the validation gate for one (batch, table): GX checkpoint, results kept in `audit.validation_results`,
data docs rebuilt, and a `ValidationFailed` naming every failed expectation (table, column, unexpected values).

`checkpoint.run()` does not raise when expectations fail or when an expectation itself errors: both are read from
the results here (`success` and `exception_info`), so neither can slip through.

No raw PII leaves through here: for a table with PII columns GX returns no values (`suites.result_format`), no row
sample is fetched either, and the failure message says the values were withheld — the message is what the alert and
`audit.validation_results` carry.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from include import contract
from include.config import SCHEMA_SOURCES, Settings, get_settings
from include.ingest.manifest import read_manifest
from include.quality import suites
from include.quality.project import checkpoint_name, open_context
from include.warehouse.connect import connect

log = logging.getLogger(__name__)

FRESHNESS_TOLERANCE = timedelta(days=2)


class ValidationFailed(RuntimeError):
    """One or more expectations failed; the message lists them. The transform must not run on this batch."""


@dataclass(frozen=True)
class ExpectationOutcome:
    suite: str
    expectation: str
    column: str | None
    success: bool
    unexpected_count: int | None
    unexpected_sample: list[Any]
    observed_value: Any
    exception: str | None
    values_withheld: bool = False  # the table has PII columns: no sample values, counts only

    def describe(self, table: str) -> str:
        where = f"{table}.{self.column}" if self.column else table
        text = f"{self.expectation} on {where} [{self.suite}]"
        if self.exception:
            return f"{text}: error {self.exception}"
        if self.unexpected_count:
            sample = ", ".join(repr(v) for v in self.unexpected_sample[:5])
            text += f": {self.unexpected_count} unexpected" + (
                f" (e.g. {sample})" if sample else " (values withheld: PII table)" if self.values_withheld else "")
        elif self.observed_value is not None:
            text += f": observed {self.observed_value}"
        return text


@dataclass(frozen=True)
class ValidationReport:
    batch_id: str
    table: str
    outcomes: list[ExpectationOutcome]
    seconds: float

    @property
    def failures(self) -> list[ExpectationOutcome]:
        return [o for o in self.outcomes if not o.success]


def run_parameters(batch_id: str, table: contract.Table, settings: Settings) -> dict[str, Any]:
    """Expected row count (manifest − quarantined − superseded + kept, see `include.ingest.batch`) and the freshness
    window of the batch."""
    manifest = read_manifest(settings.landing_root / batch_id)
    with connect("loader", settings) as conn:
        quarantined = conn.execute(
            "select count(*) from audit.quarantine where batch_id = %s and table_name = %s", (batch_id, table.name)
        ).fetchone()[0]
        row = conn.execute(
            "select rows_superseded - rows_kept from audit.load_batches where batch_id = %s and table_name = %s"
            " and status = 'success'", (batch_id, table.name)
        ).fetchone()
    superseded_net = row[0] if row else 0
    if batch_id == contract.HISTORY:
        fresh_from, fresh_until = datetime(1900, 1, 1, tzinfo=UTC), datetime(2999, 1, 1, tzinfo=UTC)
    else:
        day = datetime.combine(date.fromisoformat(batch_id), datetime.min.time(), tzinfo=UTC)
        fresh_from, fresh_until = day - FRESHNESS_TOLERANCE, day + timedelta(days=1) + FRESHNESS_TOLERANCE
    return {
        suites.EXPECTED_ROWS: manifest.files[table.name].rows - quarantined - superseded_net,
        suites.FRESH_FROM: fresh_from.isoformat(),
        suites.FRESH_UNTIL: fresh_until.isoformat(),
    }


def _exception_message(info: dict[str, Any]) -> str | None:
    """GX reports errors either at the top level or per metric (`{metric_id: {raised_exception, ...}}`)."""
    candidates = [info, *(v for v in info.values() if isinstance(v, dict))]
    for candidate in candidates:
        if candidate.get("raised_exception"):
            return str(candidate.get("exception_message") or "expectation raised").splitlines()[0]
    return None


def _outcome(suite: str, result: Any, table: contract.Table) -> ExpectationOutcome:
    config = result.expectation_config
    details = result.result or {}
    exception = _exception_message(result.exception_info or {})
    withheld = bool(table.pii)
    return ExpectationOutcome(
        suite=suite,
        expectation=config.type,
        column=config.kwargs.get("column") or (config.meta or {}).get("column")
        or ",".join(filter(None, [config.kwargs.get("column_A"), config.kwargs.get("column_B")])) or None,
        success=bool(result.success) and exception is None,
        unexpected_count=details.get("unexpected_count"),
        unexpected_sample=[] if withheld else list(details.get("partial_unexpected_list") or details.get(
            "details", {}).get("unexpected_rows", []) or [])[:5],
        observed_value=details.get("observed_value"),
        exception=exception,
        values_withheld=withheld,
    )


def _with_row_sample(outcome: ExpectationOutcome, query: str, table: contract.Table,
                     batch_parameters: dict[str, str] | None, settings: Settings) -> ExpectationOutcome:
    """GX's SUMMARY result of a row query has only the count: fetch a few of the offending values for the alert."""
    from dataclasses import replace

    from psycopg import sql

    batch = sql.SQL("(select * from {} where _batch_id = {}) as gx_batch" if batch_parameters else
                    "(select * from {} {}) as gx_batch").format(
        sql.Identifier(SCHEMA_SOURCES, table.name),
        sql.Literal(batch_parameters["_batch_id"]) if batch_parameters else sql.SQL(""))
    pieces: list[sql.Composable] = []
    for index, part in enumerate(query.split("{batch}")):
        pieces.extend([batch, sql.SQL(part)] if index else [sql.SQL(part)])
    statement = sql.SQL("select * from ({}) as unexpected limit 5").format(sql.Composed(pieces))
    with connect("loader", settings) as conn:
        rows = conn.execute(statement).fetchall()
    sample = [row[0] if len(row) == 1 else list(row) for row in rows]
    return replace(outcome, unexpected_count=outcome.observed_value, unexpected_sample=sample)


def _store(report: ValidationReport, run_id: str, settings: Settings) -> None:
    now = datetime.now(UTC)
    with connect("loader", settings) as conn, conn.cursor() as cur:
        cur.executemany(
            "insert into audit.validation_results (run_id, batch_id, table_name, suite_name, expectation_type,"
            " column_name, success, unexpected_count, unexpected_sample, observed_value, exception_message,"
            " validated_at) values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            [(run_id, report.batch_id, report.table, o.suite, o.expectation, o.column, o.success, o.unexpected_count,
              json.dumps(o.unexpected_sample, default=str), json.dumps(o.observed_value, default=str), o.exception,
              now) for o in report.outcomes],
        )


def _run_table(context: Any, batch_id: str, table: contract.Table, settings: Settings) -> tuple[
        ValidationReport, list[Any]]:
    from great_expectations.exceptions.exceptions import NoAvailableBatchesError

    started = time.monotonic()
    parameters = run_parameters(batch_id, table, settings)
    outcomes: list[ExpectationOutcome] = []
    result_ids: list[Any] = []
    scopes: list[tuple[str, dict[str, str] | None]] = [("batch", {"_batch_id": batch_id})]
    if whole_table_checks_due(batch_id, settings):
        scopes.append(("table", None))
    for scope, batch_parameters in scopes:
        checkpoint = context.checkpoints.get(checkpoint_name(table.name, scope))
        try:
            result = checkpoint.run(batch_parameters=batch_parameters, expectation_parameters=parameters)
        except NoAvailableBatchesError:
            # No row of the table carries this batch id: right for a header-only file (nothing changed that
            # day), a lost batch otherwise.
            expected = parameters[suites.EXPECTED_ROWS]
            outcomes.append(ExpectationOutcome(
                f"{table.name}.{scope}", "expect_table_row_count_to_equal", None, expected == 0, None, [],
                f"0 rows with _batch_id={batch_id!r}, expected {expected}", None))
            continue
        for result_id, validation in result.run_results.items():
            result_ids.append(result_id)
            for expectation_result in validation.results:
                outcome = _outcome(validation.suite_name, expectation_result, table)
                if (not outcome.success and outcome.expectation == "unexpected_rows_expectation"
                        and not outcome.values_withheld):
                    query = expectation_result.expectation_config.kwargs["unexpected_rows_query"]
                    outcome = _with_row_sample(outcome, query, table, batch_parameters, settings)
                outcomes.append(outcome)
            if not validation.success and all(o.success for o in outcomes):
                outcomes.append(ExpectationOutcome(validation.suite_name, "suite", None, False, None, [], None,
                                                   "GX reported failure without a failed expectation"))
    return ValidationReport(batch_id, table.name, outcomes, time.monotonic() - started), result_ids


def whole_table_checks_due(batch_id: str, settings: Settings) -> bool:
    """The whole-table suites (`suites.table_expectations`: keys unique and not null, no orphan foreign key in any
    row) run with the history batch and once a week: for a batch dated on the ISO weekday `full_check_weekday`
    (SA_FULL_CHECK_WEEKDAY, 7 = Sunday: the day dbt tests every row too). Every other night the batch suite checks
    the rows the batch landed — its keys, its foreign keys — and PostgreSQL's primary keys hold for every row; what
    only the weekly run finds is a row written behind the extract (docs/operations.md). Scanning every row nightly
    would cost the gate minutes at scale 1000."""
    return batch_id == contract.HISTORY or date.fromisoformat(batch_id).isoweekday() == settings.full_check_weekday


def _require_every_table_landed(batch_id: str, tables: list[str], settings: Settings) -> None:
    """A day with a table whose load failed (or never ran) is not a day: the gate refuses it before GX runs, even
    when someone clears validate_batch alone after a failed load."""
    with connect("loader", settings) as conn:
        status = dict(conn.execute("select table_name, status from audit.load_batches where batch_id = %s",
                                   (batch_id,)).fetchall())
    missing = [f"{t} ({status.get(t) or 'never loaded'})" for t in tables if status.get(t) != "success"]
    if missing:
        raise ValidationFailed(f"validation of batch {batch_id} refused: not every table landed: {', '.join(missing)}"
                               "; re-run the failed load tasks (or the whole day) first")


def _localize_docs(settings: Settings, written_since: float) -> None:
    """Point the rebuilt pages at the vendored CSS/JS (include.quality.data_docs); never fails the gate."""
    from include.quality.data_docs import AssetsMissing, localize_site

    try:
        localize_site(settings, written_since=written_since)
    except (AssetsMissing, OSError) as exc:
        log.warning("GX data docs keep their CDN links: %s", exc)


def validate_batch(batch_id: str, settings: Settings | None = None,
                   tables: list[str] | None = None, build_docs: bool = True) -> list[ValidationReport]:
    """Validate every table (or `tables`) of a landed batch; one ValidationFailed lists all failures of all tables.

    Results go to `audit.validation_results` and the GX data docs (`great_expectations/uncommitted/data_docs`) are
    rebuilt for this run's results, pass or fail.
    """
    settings = settings or get_settings()
    _require_every_table_landed(batch_id, tables or [t.name for t in contract.TABLES], settings)
    context = open_context(settings)
    run_id = str(uuid.uuid4())
    reports: list[ValidationReport] = []
    result_ids: list[Any] = []
    for name in tables or [t.name for t in contract.TABLES]:
        report, ids = _run_table(context, batch_id, contract.table(name), settings)
        _store(report, run_id, settings)
        reports.append(report)
        result_ids.extend(ids)
    if build_docs:
        docs_started = time.time() - 1  # file times are coarser than the clock on some filesystems
        context.build_data_docs(resource_identifiers=result_ids)
        _localize_docs(settings, docs_started)
    failed = [(r.table, f) for r in reports for f in r.failures]
    if failed:
        total = sum(len(r.outcomes) for r in reports)
        raise ValidationFailed(
            f"validation of batch {batch_id} failed: {len(failed)} of {total} expectations "
            f"(tables: {', '.join(sorted({t for t, _ in failed}))}):\n- "
            + "\n- ".join(f.describe(t) for t, f in failed)
        )
    return reports
