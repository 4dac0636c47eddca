"""The extract on a real PostgreSQL with the simulator's output: counts, defects, idempotency, crash safety."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest

from include import contract
from include.config import get_settings
from include.ingest import errors
from include.ingest.batch import load_batch, load_table, verify_batch
from include.simulator import generate
from include.warehouse.connect import connect
from tests.conftest import truncate_warehouse

pytestmark = pytest.mark.integration

DAYS = ["2025-11-01", "2025-11-02", "2025-11-03"]


def _counts(settings) -> dict[str, int]:  # type: ignore[no-untyped-def]
    with connect("admin", settings) as conn:
        return {t.name: conn.execute(f"select count(*) from analytics.{t.name}").fetchone()[0] for t in contract.TABLES}


def _checksums(settings, with_loaded_at: bool = True) -> dict[str, str]:  # type: ignore[no-untyped-def]
    out = {}
    with connect("admin", settings) as conn:
        for t in contract.TABLES:
            cols = [*t.column_names, "_batch_id"] + (["_loaded_at"] if with_loaded_at else [])
            row = f"({', '.join(cols)})::text"
            out[t.name] = conn.execute(
                f"select md5(coalesce(string_agg({row}, '|' order by {t.primary_key}), '')) from analytics.{t.name}"
            ).fetchone()[0]
    return out


@pytest.fixture
def defective(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, empty_warehouse):  # type: ignore[no-untyped-def]
    """Generate a small landing zone with exactly one defect and point the settings at it."""

    def make(defect: str, table: str = "support_tickets", folder: str = "2025-11-01"):  # type: ignore[no-untyped-def]
        spec = f"{defect}:{table}:{folder}"
        report = generate(tmp_path / "landing", scale=0.1, start=date(2025, 11, 1), end=date(2025, 11, 1),
                          defects=[spec])
        monkeypatch.setenv("SA_LANDING_ROOT", str(tmp_path / "landing"))
        settings = get_settings()
        load_batch("history", settings)
        return report.defects[0], settings

    return make


def test_clean_load_matches_manifest_and_logs_every_table(landing, empty_warehouse) -> None:  # type: ignore[no-untyped-def]
    settings = get_settings()
    expected = {t.name: 0 for t in contract.TABLES}
    for batch in ["history", *DAYS]:
        results = load_batch(batch, settings)
        folder = landing.folder(batch)
        for result in results:
            assert result.rows_in == folder.rows[result.table]
            assert result.rows_quarantined == 0
            expected[result.table] += folder.rows[result.table]
    counts = _counts(settings)
    # Re-sent rows (changed tickets, customers) are upserts, so tables hold at most the rows sent and for
    # append-only logins exactly the rows sent.
    assert counts["customer_logins"] == expected["customer_logins"]
    for name in expected:
        assert 0 < counts[name] <= expected[name]
    with connect("admin", settings) as conn:
        log = conn.execute("select batch_id, table_name, status, rows_in from audit.load_batches").fetchall()
        audit_ok = conn.execute(
            "select count(*) from analytics.support_tickets as t left join audit.load_batches as b"
            " on b.batch_id = t._batch_id and b.table_name = 'support_tickets'"
            " where t._loaded_at is null or b.source_file is null or b.source_file not like '%support_tickets.csv.gz'"
        ).fetchone()[0]
    assert len(log) == 4 * len(contract.TABLES) and {r[2] for r in log} == {"success"}
    assert audit_ok == 0


def test_rerun_and_overlapping_backfill_leave_identical_contents(landing, empty_warehouse) -> None:  # type: ignore[no-untyped-def]
    settings = get_settings()
    for batch in ["history", *DAYS]:
        load_batch(batch, settings)
    once = _checksums(settings)
    # a day's logins are all new keys: the load only appended; a day that updates earlier tickets did not
    assert _appended_only(settings, "customer_logins") == {"history": True, **dict.fromkeys(DAYS, True)}
    assert not any(_appended_only(settings, "support_tickets")[day] for day in DAYS)
    load_batch("2025-11-02", settings)  # rerun one day after a later day landed
    assert _checksums(settings) == once
    # its logins were landed before: their customers must be recounted, not added to
    assert _appended_only(settings, "customer_logins")["2025-11-02"] is False
    for batch in DAYS:  # overlapping backfill
        load_batch(batch, settings)
    assert _checksums(settings) == once

    # A separate warehouse that got the days in a different order ends with the same content.
    truncate_warehouse(settings)
    for batch in ["history", "2025-11-03", "2025-11-01", "2025-11-02"]:
        load_batch(batch, settings)
    assert _checksums(settings, with_loaded_at=False) == {
        k: v for k, v in _checksums_after_clean_order(settings).items()
    }


def _appended_only(settings, table: str) -> dict[str, bool]:  # type: ignore[no-untyped-def]
    """Per batch of `table`, whether its latest successful load only appended (audit.committed_loads)."""
    with connect("admin", settings) as conn:
        return dict(conn.execute("select batch_id, appended_only from audit.committed_loads where table_name = %s",
                                 (table,)).fetchall())


def _checksums_after_clean_order(settings) -> dict[str, str]:  # type: ignore[no-untyped-def]
    truncate_warehouse(settings)
    for batch in ["history", *DAYS]:
        load_batch(batch, settings)
    return _checksums(settings, with_loaded_at=False)


@pytest.mark.parametrize(
    ("defect", "reason"),
    [
        ("malformed_row", "malformed: 3 fields, expected 16"),
        ("duplicate_pk", "duplicate: ticket_id"),
        ("null_required", "required: customer_id is empty"),
        ("bad_type", "type: created_at 'not-a-date' is not a valid timestamptz"),
        ("out_of_range", "rule: satisfaction_score 7 is outside 1..5"),
        ("unknown_category", "rule: channel 'fax' is not one of app, web, phone, email, chat"),
    ],
)
def test_row_defects_are_quarantined_with_line_and_reason(defective, defect: str, reason: str) -> None:  # type: ignore[no-untyped-def]
    report, settings = defective(defect)
    before = _counts(settings)
    with pytest.raises(errors.QuarantineThresholdExceeded) as failure:
        load_table("2025-11-01", "support_tickets", settings)
    message = str(failure.value)
    assert f"line {report.line}: {reason}" in message and "support_tickets.csv.gz" in message
    assert "\n" not in message and "Nothing was loaded" in message
    if reason.startswith("rule:"):
        assert "1 rows breaking a contract rule (SA_MAX_QUARANTINED_RULE_ROWS=0)" in message
    assert _counts(settings) == before, "nothing may land when the threshold is exceeded"
    with connect("admin", settings) as conn:
        quarantined = conn.execute("select line_number, reason from audit.quarantine").fetchall()
        status = conn.execute("select status, message from audit.load_batches where batch_id = '2025-11-01'"
                              " and table_name = 'support_tickets'").fetchone()
    assert quarantined == [(report.line, quarantined[0][1])] and quarantined[0][1].startswith(reason)
    assert status[0] == "failed" and f"line {report.line}" in status[1]


def test_quarantine_within_threshold_lands_the_rest(defective, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    report, _ = defective("bad_type")
    monkeypatch.setenv("SA_MAX_QUARANTINED_PARSE_ROWS", "1")
    settings = get_settings()
    result = load_table("2025-11-01", "support_tickets", settings)
    assert result.rows_quarantined == 1 and result.rows_loaded == result.rows_in - 1
    with connect("admin", settings) as conn:
        landed = conn.execute("select count(*) from analytics.support_tickets where ticket_id = %s",
                              (report.key,)).fetchone()[0]
        assert conn.execute("select count(*) from analytics.support_tickets where _batch_id = '2025-11-01'"
                            ).fetchone()[0] == result.rows_loaded
    assert landed == 1, "the history version of the damaged ticket stays; the bad update did not land"


def test_rule_break_within_its_threshold_lands_the_rest(defective, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """A row breaking a contract rule counts against SA_MAX_QUARANTINED_RULE_ROWS only: raising the key and parse
    thresholds does not let it through; raising the rule threshold quarantines it and lands the rest."""
    report, _ = defective("out_of_range")
    monkeypatch.setenv("SA_MAX_QUARANTINED_KEY_ROWS", "5")
    monkeypatch.setenv("SA_MAX_QUARANTINED_PARSE_ROWS", "5")
    before = _checksums(get_settings())
    with pytest.raises(errors.QuarantineThresholdExceeded, match=r"SA_MAX_QUARANTINED_RULE_ROWS=0"):
        load_table("2025-11-01", "support_tickets", get_settings())
    assert _checksums(get_settings()) == before, "a refused table is untouched"

    monkeypatch.setenv("SA_MAX_QUARANTINED_RULE_ROWS", "1")
    settings = get_settings()
    result = load_table("2025-11-01", "support_tickets", settings)
    assert result.rows_quarantined == 1 and result.rows_loaded == result.rows_in - 1
    with connect("admin", settings) as conn:
        quarantined = conn.execute("select line_number, reason from audit.quarantine where batch_id = '2025-11-01'"
                                   ).fetchall()
        landed = conn.execute("select count(*) from analytics.support_tickets where _batch_id = '2025-11-01'"
                              ).fetchone()[0]
        out_of_range = conn.execute("select count(*) from analytics.support_tickets"
                                    " where satisfaction_score not between 1 and 5").fetchone()[0]
    assert quarantined == [(report.line, "rule: satisfaction_score 7 is outside 1..5")]
    assert landed == result.rows_loaded and out_of_range == 0


@pytest.mark.parametrize(
    ("defect", "reason"),
    [
        ("duplicate_pk", "duplicate: ticket_id"),
        ("null_required", "required: customer_id is empty"),
        ("bad_type", "type: created_at 'not-a-date' is not a valid timestamptz"),
        ("out_of_range", "rule: satisfaction_score 7 is outside 1..5"),
        ("unknown_category", "rule: channel 'fax' is not one of app, web, phone, email, chat"),
    ],
)
def test_first_load_into_an_empty_table_checks_rows_the_same_way(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                  empty_warehouse, defect: str, reason: str) -> None:  # type: ignore[no-untyped-def]
    """The bootstrap's fast path COPYs straight into the empty table; its constraints must catch what the typed
    checks catch, fall back to the row-level checks, and quarantine the same row with the same reason."""
    report = generate(tmp_path / "landing", scale=0.1, start=date(2025, 11, 1), end=date(2025, 11, 1),
                      defects=[f"{defect}:support_tickets:history"]).defects[0]
    monkeypatch.setenv("SA_LANDING_ROOT", str(tmp_path / "landing"))
    settings = get_settings()
    with pytest.raises(errors.QuarantineThresholdExceeded, match=f"line {report.line}: {reason}"):
        load_table("history", "support_tickets", settings)
    assert _counts(settings)["support_tickets"] == 0

    monkeypatch.setenv("SA_MAX_QUARANTINED_KEY_ROWS", "1")
    monkeypatch.setenv("SA_MAX_QUARANTINED_PARSE_ROWS", "1")
    monkeypatch.setenv("SA_MAX_QUARANTINED_RULE_ROWS", "1")
    result = load_table("history", "support_tickets", get_settings())
    assert result.rows_quarantined == 1 and result.rows_loaded == result.rows_in - 1
    with connect("admin", settings) as conn:
        audit = conn.execute("select t._batch_id, b.source_file, count(*) from analytics.support_tickets as t"
                             " join audit.load_batches as b on b.batch_id = t._batch_id"
                             " and b.table_name = 'support_tickets' group by 1, 2").fetchall()
    assert audit == [("history", str(tmp_path / "landing" / "history" / "support_tickets.csv.gz"), result.rows_loaded)]


@pytest.mark.parametrize(
    ("defect", "table", "reason"),
    [
        ("unknown_category", "customers", "rule: customer_segment 'Gold' is not one of Standard, Premium, Business,"
                                          " Student"),
        ("out_of_range", "products", "rule: monthly_fee -1.00 is below the minimum 0"),
        ("unknown_category", "root_causes", "rule: severity 'catastrophic' is not one of low, medium, high, critical"),
        ("out_of_range", "customer_products", "rule: monthly_revenue -25.00 is below the minimum 0"),
        ("unknown_category", "customer_logins", "rule: device 'blackberry' is not one of ios, android, web"),
    ],
)
def test_rule_breaks_in_every_table_are_refused_by_line_and_column(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                    empty_warehouse, defect: str, table: str,
                                                                    reason: str) -> None:  # type: ignore[no-untyped-def]
    """The simulator's well-formed but wrong values, in each table they can hit: the first load refuses the table
    (nothing lands), with the threshold raised the row is quarantined and the rest lands."""
    report = generate(tmp_path / "landing", scale=0.1, start=date(2025, 11, 1), end=date(2025, 11, 1),
                      defects=[f"{defect}:{table}:history"]).defects[0]
    monkeypatch.setenv("SA_LANDING_ROOT", str(tmp_path / "landing"))
    for parent in contract.TABLES[:contract.TABLES.index(contract.table(table))]:
        load_table("history", parent.name, get_settings())
    with pytest.raises(errors.QuarantineThresholdExceeded) as failure:
        load_table("history", table, get_settings())
    assert f"{table}.csv.gz → analytics.{table}: 1 rows breaking a contract rule" in str(failure.value)
    assert f"line {report.line}: {reason}" in str(failure.value)
    assert _counts(get_settings())[table] == 0

    monkeypatch.setenv("SA_MAX_QUARANTINED_RULE_ROWS", "1")
    result = load_table("history", table, get_settings())
    assert result.rows_quarantined == 1 and result.rows_loaded == result.rows_in - 1 == _counts(get_settings())[table]


def test_first_load_sets_audit_columns_and_keeps_the_batch_index(landing, empty_warehouse) -> None:  # type: ignore[no-untyped-def]
    settings = get_settings()
    load_batch("history", settings)
    with connect("admin", settings) as conn:
        rows = conn.execute("select t._batch_id, b.source_file like '%/history/support_tickets.csv.gz',"
                            " t._loaded_at > now() - interval '1 hour', count(*) from analytics.support_tickets as t"
                            " join audit.load_batches as b on b.batch_id = t._batch_id"
                            " and b.table_name = 'support_tickets' group by 1, 2, 3").fetchall()
        indexes = {r[0] for r in conn.execute("select indexname from pg_indexes where schemaname = 'analytics'")}
        leaked = conn.execute("select current_setting('sa.batch_id', true)").fetchone()[0]
        defaults = conn.execute("select a.attname, pg_get_expr(d.adbin, d.adrelid) from pg_attrdef as d join"
                                " pg_attribute as a on (a.attrelid, a.attnum) = (d.adrelid, d.adnum)"
                                " where d.adrelid = 'analytics.support_tickets'::regclass order by 1").fetchall()
    assert rows == [("history", True, True, landing.folder("history").rows["support_tickets"])]
    assert {f"{t.name}_batch_id" for t in contract.TABLES} <= indexes
    assert leaked in (None, ""), "the audit settings are transaction-local"
    # the COPY's constant defaults (this load's values) were put back to the table's own
    assert defaults == [("_batch_id", "current_setting('sa.batch_id'::text)"),
                        ("_loaded_at", "(current_setting('sa.loaded_at'::text))::timestamp with time zone")]


@pytest.mark.parametrize(
    ("defect", "error", "words"),
    [
        ("missing_column", errors.SchemaDrift, ["missing ['priority']"]),
        ("renamed_column", errors.SchemaDrift, ["missing ['priority']", "unexpected ['ticket_priority']"]),
        ("empty_file", errors.SchemaDrift, ["empty file"]),
        ("missing_manifest", errors.IncompleteBatch, ["_manifest.json is missing"]),
        ("manifest_sha_mismatch", errors.ManifestMismatch, ["support_tickets.csv.gz: sha256"]),
    ],
)
def test_file_defects_fail_before_anything_is_written(defective, defect: str, error: type, words: list[str]) -> None:  # type: ignore[no-untyped-def]
    _, settings = defective(defect)
    before = _checksums(settings)
    with pytest.raises(error) as failure:
        load_batch("2025-11-01", settings)
    for word in words:
        assert word in str(failure.value)
    assert _checksums(settings) == before
    with connect("admin", settings) as conn:
        assert conn.execute("select count(*) from audit.load_batches where batch_id = '2025-11-01'"
                            ).fetchone()[0] == 0


def test_an_unknown_column_is_ignored_and_noted_in_the_load_log(defective) -> None:  # type: ignore[no-untyped-def]
    """A source that adds a column: the known columns land, the load log and the task log name the new one."""
    _, settings = defective("extra_column")
    result = {r.table: r for r in load_batch("2025-11-01", settings)}["support_tickets"]
    assert result.rows_quarantined == 0 and result.rows_loaded == result.rows_in > 0
    with connect("admin", settings) as conn:
        message = conn.execute("select message from audit.load_batches where batch_id = '2025-11-01'"
                               " and table_name = 'support_tickets' and status = 'success'").fetchone()[0]
    assert message == result.note and "ignored column(s) not in the contract: source_system" in message


def test_manifest_count_mismatch_fails_the_table_untouched(defective) -> None:  # type: ignore[no-untyped-def]
    _, settings = defective("manifest_count_mismatch")
    before = _checksums(settings)
    with pytest.raises(errors.ManifestMismatch, match=r"data rows in the file but the manifest says"):
        load_batch("2025-11-01", settings)
    assert _checksums(settings)["support_tickets"] == before["support_tickets"]


@pytest.mark.parametrize("defect", ["orphan_fk", "stale_data"])
def test_meaning_defects_reach_the_tables_for_the_gate(defective, defect: str) -> None:  # type: ignore[no-untyped-def]
    """What only the Great Expectations gate can judge (it needs other rows or tables) lands; the extract does not
    silently drop it. (Out-of-range values and unknown categories break a contract rule: they never land, see
    test_row_defects_are_quarantined_with_line_and_reason.)

    (stale_data moves every timestamp 28 days back: re-sent tickets are then older than the version already
    landed and are counted as superseded, not applied — the load log says so.)
    """
    from include.ingest.manifest import read_manifest

    _, settings = defective(defect)
    result = {r.table: r for r in load_batch("2025-11-01", settings)}["support_tickets"]
    with connect("admin", settings) as conn:
        landed = conn.execute("select count(*) from analytics.support_tickets where _batch_id = '2025-11-01'"
                              ).fetchone()[0]
    manifest_rows = read_manifest(settings.landing_root / "2025-11-01").files["support_tickets"].rows
    assert result.rows_quarantined == 0
    assert landed + result.rows_superseded == manifest_rows
    assert (result.rows_superseded > 0) == (defect == "stale_data")


def test_killed_load_leaves_nothing_partial_and_the_rerun_completes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                     empty_warehouse) -> None:  # type: ignore[no-untyped-def]
    generate(tmp_path / "landing", scale=3, start=date(2025, 11, 1), end=date(2025, 11, 1))
    monkeypatch.setenv("SA_LANDING_ROOT", str(tmp_path / "landing"))
    settings = get_settings()
    loader = subprocess.Popen([sys.executable, "-m", "include.cli", "load", "history"], env=dict(os.environ),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    killed_during = None
    with connect("admin", settings, autocommit=True) as conn:
        while time.monotonic() < deadline and loader.poll() is None:
            running = conn.execute("select table_name from audit.load_batches where status = 'running'"
                                   " and table_name = 'customer_logins'").fetchone()
            if running:
                time.sleep(0.3)  # well inside the COPY of ~1M login rows
                killed_during = running[0]
                loader.send_signal(signal.SIGKILL)
                break
            time.sleep(0.05)
    loader.wait(30)
    assert killed_during == "customer_logins", f"loader finished before it could be killed: {loader.returncode}"
    assert _counts(settings)["customer_logins"] == 0, "a killed load must leave no partial table data"
    results = {r.table: r for r in load_batch("history", settings)}
    assert _counts(settings)["customer_logins"] == results["customer_logins"].rows_in
    with connect("admin", settings) as conn:
        assert conn.execute("select count(*) from audit.load_batches where status <> 'success'").fetchone()[0] == 0


def test_verify_batch_names_a_missing_folder(empty_warehouse) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(errors.IncompleteBatch, match=r"2031-01-01 does not exist"):
        verify_batch("2031-01-01", get_settings())
