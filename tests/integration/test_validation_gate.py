"""The Great Expectations gate on real PostgreSQL: a clean batch passes; each defect fails exactly its expectation."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest

from include.config import Settings, get_settings
from include.ingest.batch import load_batch, load_table
from include.ingest.manifest import batch_folder
from include.quality.validate import ValidationFailed, validate_batch
from include.simulator import generate
from include.warehouse.connect import connect
from tests.hostile import field_of

pytestmark = pytest.mark.integration

DAY = "2025-11-01"


@pytest.fixture
def landed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, empty_warehouse) -> Callable[..., Settings]:  # type: ignore[no-untyped-def]
    """Land (and validate) the history, then land DAY with at most one simulator defect."""

    def make(defect: str | None = None) -> Settings:
        defects = [f"{defect}:support_tickets:{DAY}"] if defect else []
        generate(tmp_path / "landing", scale=0.1, start=date(2025, 11, 1), end=date(2025, 11, 1), defects=defects)
        monkeypatch.setenv("SA_LANDING_ROOT", str(tmp_path / "landing"))
        settings = get_settings()
        load_batch("history", settings)
        validate_batch("history", settings)
        load_batch(DAY, settings)
        return settings

    return make


def _failed(settings: Settings) -> set[tuple[str, str | None]]:
    with connect("admin", settings) as conn:
        rows = conn.execute(
            "select expectation_type, column_name from audit.validation_results"
            " where batch_id = %s and not success", (DAY,)).fetchall()
    return {(r[0], r[1]) for r in rows}


def test_clean_batch_passes_and_results_and_docs_are_kept(landed) -> None:  # type: ignore[no-untyped-def]
    settings = landed()
    reports = validate_batch(DAY, settings)
    assert {r.table for r in reports} == {"customers", "products", "ticket_categories", "root_causes",
                                          "customer_products", "support_tickets", "customer_logins"}
    tickets = next(r for r in reports if r.table == "support_tickets")
    assert len(tickets.outcomes) >= 40 and all(o.success for o in tickets.outcomes)
    assert {o.suite for o in tickets.outcomes} == {"support_tickets.batch"}  # a Saturday: the night's suites
    with connect("admin", settings) as conn:
        stored, passed = conn.execute(
            "select count(*), count(*) filter (where success) from audit.validation_results where batch_id = %s",
            (DAY,)).fetchone()
    assert stored == passed == sum(len(r.outcomes) for r in reports)
    index = settings.gx_root / "uncommitted" / "data_docs" / "local_site" / "index.html"
    assert index.exists() and "support_tickets.batch" in index.read_text()
    _assert_docs_render_offline(index.parent)


def test_a_batch_is_found_by_its_id_without_listing_every_batch_of_the_table(landed) -> None:  # type: ignore[no-untyped-def]
    """GX's own lookup lists every distinct `_batch_id` of a table (every row read) before it validates one batch;
    the gate asks for the batch's rows only (include/quality/batch_lookup.py). A table the day did not touch (no row
    with the batch id) is still reported as such."""
    import re

    import sqlalchemy

    from include import contract

    settings = landed()
    statements: list[str] = []

    def record(conn, cursor, statement, *_):  # type: ignore[no-untyped-def]
        statements.append(statement)

    sqlalchemy.event.listen(sqlalchemy.engine.Engine, "before_cursor_execute", record)
    try:
        reports = validate_batch(DAY, settings)
    finally:
        sqlalchemy.event.remove(sqlalchemy.engine.Engine, "before_cursor_execute", record)
    assert [s for s in statements if f"_batch_id = '{DAY}'" in s or "_batch_id = %(" in s]  # GX's queries were seen
    assert not [s for s in statements if re.search(r"distinct\s*\(\s*_batch_id\s*\)", s, re.IGNORECASE)]
    with connect("admin", settings) as conn:
        untouched = {t.name for t in contract.TABLES if not conn.execute(
            f"select exists (select from analytics.{t.name} where _batch_id = %s)", (DAY,)).fetchone()[0]}
    assert untouched  # reference tables are re-sent only when they change
    for report in reports:
        if report.table in untouched:
            assert [(o.success, o.observed_value) for o in report.outcomes] == [
                (True, f"0 rows with _batch_id={DAY!r}, expected 0")], report.table
        else:
            assert len(report.outcomes) > 3 and all(o.success for o in report.outcomes), report.table


def _assert_docs_render_offline(site: Path) -> None:
    """Every page links its CSS/JS to a vendored copy that exists: no CDN is needed to render the site."""
    import re

    from include.quality.data_docs import CDN_URLS

    pages = list(site.rglob("*.html"))
    assert len(pages) > 5
    for page in pages:
        text = page.read_text()
        assert not [url for url in CDN_URLS if url in text], page
        for ref in re.findall(r'(?:src|href)="([^"]+\.(?:js|css))"', text):
            assert not ref.startswith(("http:", "https:", "//")), (page, ref)
            assert (page.parent / ref).resolve().is_file(), (page, ref)


# The simulator's out_of_range / unknown_category values, written into analytics as the loader would have.
BEHIND_THE_EXTRACT = {
    "out_of_range": "update analytics.support_tickets set satisfaction_score = 7 where ticket_id ="
                    " (select min(ticket_id) from analytics.support_tickets where _batch_id = %s)",
    "unknown_category": "update analytics.support_tickets set channel = 'fax' where ticket_id ="
                        " (select min(ticket_id) from analytics.support_tickets where _batch_id = %s)",
}


@pytest.mark.parametrize(
    ("defect", "expected", "words"),
    [
        ("orphan_fk", {("unexpected_rows_expectation", "customer_id")}, ["C99999999"]),
        ("out_of_range", {("expect_column_values_to_be_between", "satisfaction_score")}, ["7"]),
        ("unknown_category", {("expect_column_values_to_be_in_set", "channel")}, ["'fax'"]),
        ("stale_data", {("expect_column_values_to_be_between", "updated_at")}, ["support_tickets.updated_at"]),
    ],
)
def test_defect_fails_exactly_its_expectation(landed, defect: str, expected: set, words: list[str]) -> None:  # type: ignore[no-untyped-def]
    """orphan_fk and stale_data land from the simulator's files; an out-of-range value and an unknown category
    break a contract rule and never land (the extract refuses them), so the gate — defence in depth, e.g. for a row
    written behind the extract — is shown them by writing the bad value straight into the day's rows."""
    if defect in BEHIND_THE_EXTRACT:
        settings = landed()
        with connect("loader", settings) as conn:
            conn.execute(BEHIND_THE_EXTRACT[defect], (DAY,))
    else:
        settings = landed(defect)
    with pytest.raises(ValidationFailed) as failure:
        validate_batch(DAY, settings)
    assert _failed(settings) == expected
    message = str(failure.value)
    assert f"validation of batch {DAY} failed" in message
    for word in words:
        assert word in message


def test_a_row_written_behind_the_extract_is_found_by_the_weekly_whole_table_check(  # type: ignore[no-untyped-def]
        landed, monkeypatch: pytest.MonkeyPatch) -> None:
    """An orphan ticket in an earlier batch: a night's batch suite does not read it (DAY is a Saturday); the
    whole-table suite of the weekly full-check day does."""
    from tests.airflow_helpers import delete_orphan_ticket, insert_orphan_ticket

    settings = landed()
    insert_orphan_ticket(settings)
    try:
        reports = validate_batch(DAY, settings)
        assert {o.suite.rsplit(".", 1)[1] for r in reports for o in r.outcomes} == {"batch"}
        monkeypatch.setenv("SA_FULL_CHECK_WEEKDAY", "6")
        with pytest.raises(ValidationFailed, match=r"unexpected_rows_expectation on support_tickets.customer_id"):
            validate_batch(DAY, get_settings())
    finally:
        delete_orphan_ticket(settings)


def test_null_in_required_column_fails_not_null(landed) -> None:  # type: ignore[no-untyped-def]
    """The tables declare required columns NOT NULL; the gate still checks, for a table whose constraint was
    dropped (an external warehouse managed by hand, an older DDL)."""
    settings = landed()
    with connect("admin", settings) as conn:
        conn.execute("alter table analytics.support_tickets alter column channel drop not null")
        conn.execute("update analytics.support_tickets set channel = null where ticket_id = "
                     "(select min(ticket_id) from analytics.support_tickets where _batch_id = %s)", (DAY,))
    try:
        with pytest.raises(ValidationFailed, match=r"expect_column_values_to_not_be_null on support_tickets.channel"):
            validate_batch(DAY, settings)
        assert _failed(settings) == {("expect_column_values_to_not_be_null", "channel")}
    finally:
        with connect("admin", settings) as conn:
            conn.execute("update analytics.support_tickets set channel = 'web' where channel is null")
            conn.execute("alter table analytics.support_tickets alter column channel set not null")


def test_resolved_before_created_fails_the_pair_check(landed) -> None:  # type: ignore[no-untyped-def]
    settings = landed()
    with connect("admin", settings) as conn:
        conn.execute("update analytics.support_tickets set resolved_at = created_at - interval '1 hour' where"
                     " ticket_id = (select min(ticket_id) from analytics.support_tickets where _batch_id = %s"
                     " and resolved_at is not null)", (DAY,))
    with pytest.raises(ValidationFailed, match=r"resolved_at,created_at"):
        validate_batch(DAY, settings)
    assert _failed(settings) == {("expect_column_pair_values_a_to_be_greater_than_b", "resolved_at,created_at")}


def test_rows_lost_after_the_load_fail_the_row_count(landed) -> None:  # type: ignore[no-untyped-def]
    settings = landed()
    with connect("admin", settings) as conn:
        conn.execute("delete from analytics.customer_logins where login_id = "
                     "(select min(login_id) from analytics.customer_logins where _batch_id = %s)", (DAY,))
    with pytest.raises(ValidationFailed, match=r"expect_table_row_count_to_equal on customer_logins"):
        validate_batch(DAY, settings)
    assert _failed(settings) == {("expect_table_row_count_to_equal", None)}


def test_duplicate_key_reaching_the_table_fails_uniqueness(landed) -> None:  # type: ignore[no-untyped-def]
    """The primary key normally makes this impossible; drop it to prove the gate would still catch it."""
    settings = landed()
    with connect("admin", settings) as conn:
        conn.execute("alter table analytics.ticket_categories drop constraint ticket_categories_pkey")
        conn.execute("insert into analytics.ticket_categories select * from analytics.ticket_categories"
                     " where category_id = (select min(category_id) from analytics.ticket_categories)")
        conn.execute("update analytics.ticket_categories set _batch_id = %s", (DAY,))
    try:
        with pytest.raises(ValidationFailed, match=r"expect_column_values_to_be_unique on ticket_categories"):
            validate_batch(DAY, settings)
        # The batch row count (manifest) fails too: the table now holds rows the day's file did not have.
        assert ("expect_column_values_to_be_unique", "category_id") in _failed(settings)
    finally:
        with connect("admin", settings) as conn:
            conn.execute("delete from analytics.ticket_categories")
            conn.execute("alter table analytics.ticket_categories add primary key (category_id)")


def test_a_failing_pii_expectation_never_shows_the_value(landed) -> None:  # type: ignore[no-untyped-def]
    """An e-mail that is no address fails its expectation; its value reaches neither the failure message (and so the
    alert), nor audit.validation_results, nor the GX data docs: GX reads no value out of a table with PII."""
    from types import SimpleNamespace

    from include.notify import messages

    settings = landed()
    secret = "Jane Q Public +1-555-0100"  # what a source put in the e-mail column
    with connect("admin", settings) as conn:
        customer = conn.execute("update analytics.customers set email = %s where customer_id = (select"
                                " min(customer_id) from analytics.customers where _batch_id = 'history') returning"
                                " customer_id", (secret,)).fetchone()[0]
    docs = settings.gx_root / "uncommitted" / "data_docs" / "local_site"
    before = {p: p.stat().st_mtime for p in docs.rglob("*.html")}
    with pytest.raises(ValidationFailed) as failure:
        validate_batch("history", settings, tables=["customers"])
    message = str(failure.value)
    assert "expect_column_values_to_match_regex on customers.email [customers.batch]: 1 unexpected" \
           " (values withheld: PII table)" in message
    with connect("admin", settings) as conn:
        failed = conn.execute("select expectation_type, column_name from audit.validation_results"
                              " where batch_id = 'history' and not success").fetchall()
        stored = conn.execute("select string_agg(t::text, '|') from audit.validation_results t").fetchone()[0]
    assert failed == [("expect_column_values_to_match_regex", "email")]
    assert "match_regex" in stored and secret not in stored and "Jane" not in stored

    written = [p for p in docs.rglob("*.html") if before.get(p) != p.stat().st_mtime]
    pages = [p.read_text() for p in written if "/validations/customers/batch/" in str(p)]
    assert pages and any("match" in page and "regular expression" in page for page in pages)
    assert not any(secret in page or "Jane" in page for page in pages)
    assert not any("Jane" in p.read_text(errors="ignore") for p in (settings.gx_root / "uncommitted").rglob("*.json"))

    ti = SimpleNamespace(dag_id="support_extract", task_id="validate_batch", run_id="scheduled__2025-11-01",
                         try_number=1, max_tries=0, log_url="http://localhost:8080/log")
    alert = messages.failure_alert({"ti": ti, "exception": failure.value, "params": {}})
    rendered = messages.as_text(alert) + messages.as_html(alert) + str(messages.as_slack(alert))
    assert "customers.email" in rendered and "values withheld" in rendered
    assert "Jane" not in rendered and customer not in rendered


def test_a_day_with_a_table_that_did_not_land_is_refused_before_any_expectation(landed) -> None:  # type: ignore[no-untyped-def]
    """One load failed, the others committed: clearing validate_batch alone must not release the transform."""
    settings = landed()
    with connect("admin", settings) as conn:
        conn.execute("update audit.load_batches set status = 'failed' where batch_id = %s"
                     " and table_name = 'support_tickets'", (DAY,))
        conn.execute("delete from audit.load_batches where batch_id = %s and table_name = 'customer_logins'", (DAY,))
        conn.execute("delete from audit.validation_results where batch_id = %s", (DAY,))
    with pytest.raises(ValidationFailed, match=r"not every table landed: support_tickets \(failed\), "
                                               r"customer_logins \(never loaded\)"):
        validate_batch(DAY, settings)
    with connect("admin", settings) as conn:  # refused before GX ran: no expectation recorded for the day
        assert conn.execute("select count(*) from audit.validation_results where batch_id = %s",
                            (DAY,)).fetchone()[0] == 0


def test_a_redelivered_day_that_quarantines_a_landed_row_still_counts_right(
        landed, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """The day lands clean; the source re-delivers it with one ticket now breaking a rule. That version is
    quarantined and the earlier one stays (still tagged with the day): the load log counts it as kept, and the gate's
    row count allows for it — it neither fails the day nor lets a lost row pass."""
    settings = landed()
    validate_batch(DAY, settings)
    field_of(1, "satisfaction_score", "7")(batch_folder(settings.landing_root, DAY))
    monkeypatch.setenv("SA_MAX_QUARANTINED_RULE_ROWS", "1")
    settings = get_settings()
    result = load_table(DAY, "support_tickets", settings)
    assert (result.rows_quarantined, result.rows_kept, result.rows_superseded) == (1, 1, 0)
    validate_batch(DAY, settings)
    assert not _failed(settings)

    with connect("admin", settings) as conn:  # the count still catches a row lost after the load
        conn.execute("delete from analytics.support_tickets where ticket_id = (select min(ticket_id)"
                     " from analytics.support_tickets where _batch_id = %s)", (DAY,))
    with pytest.raises(ValidationFailed, match=r"expect_table_row_count_to_equal on support_tickets"):
        validate_batch(DAY, settings)
