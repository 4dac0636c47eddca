"""Hostile landing input through the extract's functions on a real PostgreSQL: every variant of tests/hostile.py.

Refused input raises a LoadError with one line naming the file and the reason, and changes nothing; unusual but
valid input (BOM, columns reordered, an unknown column, CRLF, two gzip members) lands as the clean file does; a
value longer than the contract allows quarantines its row without quoting the value.
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from include import contract
from include.config import get_settings
from include.ingest import errors
from include.ingest.batch import load_batch, load_table
from include.simulator import generate
from include.warehouse.connect import connect
from tests.conftest import truncate_warehouse
from tests.hostile import (
    CORPUS,
    DAY,
    TICKETS,
    Variant,
    columns,
    content,
    damaged_root,
    field_of,
    raw,
    replace_bytes,
)

pytestmark = pytest.mark.integration

FILE_VARIANTS = [v for v in CORPUS if v.conf is None]


def checksums(settings) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Content of every analytics table (contract and batch columns; not the load time or the file path)."""
    out = {}
    with connect("admin", settings) as conn:
        for t in contract.TABLES:
            row = f"({', '.join([*t.column_names, '_batch_id'])})::text"
            out[t.name] = conn.execute(f"select count(*) || ':' || md5(coalesce(string_agg({row}, '|' order by"
                                       f" {t.primary_key}), '')) from analytics.{t.name}").fetchone()[0]
    return out


@pytest.fixture(scope="module")
def clean_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("clean") / "landing"
    generate(root, scale=0.1, start=date(2025, 11, 1), end=date(2025, 11, 1))
    return root


@pytest.fixture(scope="module")
def base(clean_root: Path, warehouse, monkeypatch_module: pytest.MonkeyPatch) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """History and the clean day landed: the state every variant starts from."""
    monkeypatch_module.setenv("SA_LANDING_ROOT", str(clean_root))
    settings = get_settings()
    truncate_warehouse(settings)
    load_batch("history", settings)
    load_batch(DAY, settings)
    return checksums(settings)


@pytest.mark.parametrize("variant", FILE_VARIANTS, ids=lambda v: v.id)
def test_variant(variant: Variant, clean_root: Path, base: dict[str, str], tmp_path: Path,
                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SA_LANDING_ROOT", str(damaged_root(clean_root, variant, tmp_path)))
    for name, value in variant.env.items():
        monkeypatch.setenv(name, value)
    settings = get_settings()
    with connect("admin", settings) as conn:
        conn.execute("delete from audit.quarantine")
    if variant.outcome == "refused":
        with pytest.raises(errors.LoadError) as refused:
            load_batch(DAY, settings)
        message = str(refused.value)
        assert "\n" not in message, message
        for word in variant.words:
            assert word in message
        for word in variant.absent:
            assert word not in message
        assert checksums(settings) == base, "a refused day changes nothing"
        return
    results = {r.table: r for r in load_batch(DAY, settings)}
    with connect("admin", settings) as conn:
        reasons = [r[0] for r in conn.execute("select reason from audit.quarantine")]
        notes = [r[0] for r in conn.execute("select message from audit.load_batches where batch_id = %s"
                                            " and message is not null", (DAY,))]
    assert sum(r.rows_quarantined for r in results.values()) == variant.quarantined == len(reasons)
    for word in variant.words:
        assert any(word in text for text in reasons + notes), (word, reasons, notes)
    for word in variant.absent:
        assert not any(word in reason for reason in reasons)
    if variant.id not in ("multibyte_utf8_text", "ticket_id_too_long", "subject_10_mb"):
        assert checksums(settings) == base, "the same rows as the clean file"
    load_batch(DAY, replace(settings, landing_root=clean_root))  # back to the base


def test_multibyte_text_lands_as_sent(clean_root: Path, base: dict[str, str], tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.hostile import VARIANTS

    monkeypatch.setenv("SA_LANDING_ROOT", str(damaged_root(clean_root, VARIANTS["multibyte_utf8_text"], tmp_path)))
    load_batch(DAY, get_settings())
    with connect("admin") as conn:
        subjects = [r[0] for r in conn.execute("select subject from analytics.support_tickets where _batch_id = %s",
                                               (DAY,))]
    assert "Überweisung fehlgeschlagen – 払い戻し 😞" in subjects


def test_a_timestamp_in_the_future_lands_only_within_the_tolerance(clean_root: Path, base: dict[str, str],
                                                                    tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """A login two hours ahead of the load (a source clock running fast) lands under the default tolerance of 24 h;
    with SA_FUTURE_TOLERANCE_HOURS=1 it breaks the rule and the table's load is refused, the table untouched."""
    soon = (datetime.now(UTC) + timedelta(hours=2)).isoformat(timespec="seconds")
    variant = Variant("login_two_hours_ahead", "landed", field_of(1, "login_at", soon, table="customer_logins"))
    monkeypatch.setenv("SA_LANDING_ROOT", str(damaged_root(clean_root, variant, tmp_path)))
    monkeypatch.setenv("SA_FUTURE_TOLERANCE_HOURS", "1")
    with pytest.raises(errors.QuarantineThresholdExceeded) as refused:
        load_batch(DAY, get_settings())
    message = str(refused.value)
    assert "customer_logins.csv.gz → analytics.customer_logins: 1 rows breaking a contract rule" in message
    assert f"line 2: rule: login_at '{soon}' is later than the load time plus SA_FUTURE_TOLERANCE_HOURS (" in message
    limit = datetime.fromisoformat(message.split("SA_FUTURE_TOLERANCE_HOURS (")[1].split(")")[0])
    assert abs(limit - (datetime.now(UTC) + timedelta(hours=1))) < timedelta(minutes=5)
    assert checksums(get_settings()) == base

    monkeypatch.delenv("SA_FUTURE_TOLERANCE_HOURS")
    settings = get_settings()
    results = {r.table: r for r in load_batch(DAY, settings)}
    assert results["customer_logins"].rows_quarantined == 0
    with connect("admin", settings) as conn:
        assert conn.execute("select count(*) from analytics.customer_logins where login_at = %s",
                            (datetime.fromisoformat(soon),)).fetchone()[0] == 1
    load_batch(DAY, replace(settings, landing_root=clean_root))  # back to the base (logins: content decides)
    assert checksums(settings) == base


def test_the_simulated_source_pinned_ahead_of_the_real_date_is_not_in_the_future(
        clean_root: Path, base: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """SA_TODAY set a month ahead (a demo or test clock): the simulated source writes its days as of that date, so
    the end of SA_TODAY, not the real load time, is the source's clock. Without the simulated source it is not."""
    ahead = datetime.now(UTC).date() + timedelta(days=30)
    login_at = datetime.combine(ahead, datetime.min.time(), tzinfo=UTC) - timedelta(hours=3)
    variant = Variant("login_as_of_a_pinned_today", "landed",
                      field_of(1, "login_at", login_at.isoformat(), table="customer_logins"))
    monkeypatch.setenv("SA_LANDING_ROOT", str(damaged_root(clean_root, variant, tmp_path)))
    monkeypatch.setenv("SA_TODAY", ahead.isoformat())
    monkeypatch.setenv("SA_SIMULATED_SOURCE", "off")
    with pytest.raises(errors.QuarantineThresholdExceeded, match=r"login_at .* is later than the load time"):
        load_table(DAY, "customer_logins", get_settings())
    assert checksums(get_settings()) == base

    monkeypatch.setenv("SA_SIMULATED_SOURCE", "on")
    settings = get_settings()
    assert load_table(DAY, "customer_logins", settings).rows_quarantined == 0
    load_table(DAY, "customer_logins", replace(settings, landing_root=clean_root))  # back to the base
    assert checksums(settings) == base


def test_first_load_maps_columns_by_name_and_checks_lengths(clean_root: Path, base: dict[str, str], tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """The first load COPYs straight into the empty table: reordered and unknown columns land the same way there,
    and a too-long value is caught (the table's columns are plain text) and quarantined."""
    history = tmp_path / "landing" / "history"
    history.parent.mkdir()
    shutil.copytree(clean_root / "history", history)
    columns(lambda h: ["from_crm", *reversed(h)])(history)
    monkeypatch.setenv("SA_LANDING_ROOT", str(history.parent))
    settings = get_settings()
    with connect("admin", settings) as conn:
        conn.execute("truncate analytics.support_tickets")
    try:
        result = load_table("history", TICKETS, settings)
        assert result.rows_loaded == result.rows_in > 1000 and result.rows_quarantined == 0
        assert result.note and "from_crm" in result.note
        with connect("admin", settings) as conn:
            landed = conn.execute("select count(*) from analytics.support_tickets where subject is null"
                                  " or status not in ('open', 'in_progress', 'resolved', 'closed')").fetchone()[0]
        assert landed < result.rows_in / 2, "each field in its own column"

        content(lambda d: d.replace(b"Card declined", b"Card declined" + b"!" * 2000, 1))(history)
        with connect("admin", settings) as conn:
            conn.execute("truncate analytics.support_tickets")
        with pytest.raises(errors.QuarantineThresholdExceeded, match="length: subject is 2013 characters"):
            load_table("history", TICKETS, settings)
    finally:
        truncate_warehouse(settings)
        good = replace(settings, landing_root=clean_root)
        load_batch("history", good)
        load_batch(DAY, good)
    assert checksums(settings) == base


@pytest.mark.parametrize("variant_id", ["truncated_gzip", "plain_csv_not_gzip", "not_utf8_latin1", "nul_byte"])
def test_a_load_run_without_the_verify_step_refuses_unreadable_files_the_same_way(
        variant_id: str, clean_root: Path, base: dict[str, str], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """`load_table` on its own (a cleared load task after the file changed, `sa`-less scripts): the same one-line
    refusal, the table rolled back, the failure in the load log."""
    from tests.hostile import VARIANTS

    variant = VARIANTS[variant_id]
    monkeypatch.setenv("SA_LANDING_ROOT", str(damaged_root(clean_root, variant, tmp_path)))
    settings = get_settings()
    with pytest.raises(errors.UnreadableFile) as refused:
        load_table(DAY, TICKETS, settings)
    assert all(word in str(refused.value) for word in variant.words), str(refused.value)
    assert checksums(settings) == base
    with connect("admin", settings) as conn:
        status, message = conn.execute("select status, message from audit.load_batches where batch_id = %s"
                                       " and table_name = %s", (DAY, TICKETS)).fetchone()
    assert status == "failed" and message == str(refused.value)


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (raw(lambda b: b[: len(b) // 2]), "truncated gzip"),
        (content(replace_bytes(b"T0", b"T\xe90", line=2)), "line 2, byte 2: not UTF-8 (byte 0xe9)"),
        (content(replace_bytes(b"T0", b"T\x000", line=2)), "line 2, byte 2: NUL byte"),
    ],
    ids=["truncated_gzip", "not_utf8", "nul_byte"],
)
def test_the_history_bootstrap_checks_content_while_it_loads(mutate, reason: str, clean_root: Path,  # type: ignore[no-untyped-def]
                                                             base: dict[str, str], tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """The bulk bootstrap skips the up-front content scan (it would inflate every file twice): a bad tickets file is
    refused by its own load, in one line, and that table is rolled back to empty (the tables loaded before it stand,
    as in any bootstrap that stopped half-way: `sa load history` again completes it)."""
    root = tmp_path / "landing"
    shutil.copytree(clean_root / "history", root / "history")
    mutate(root / "history")
    monkeypatch.setenv("SA_LANDING_ROOT", str(root))
    settings = get_settings()
    truncate_warehouse(settings)
    try:
        with pytest.raises(errors.UnreadableFile) as refused:
            load_batch("history", settings)
        assert "support_tickets.csv.gz" in str(refused.value) and reason in str(refused.value), str(refused.value)
        with connect("admin", settings) as conn:
            tickets = conn.execute("select count(*) from analytics.support_tickets").fetchone()[0]
        assert tickets == 0, "the refused table rolled back (a bad byte near the header is refused up front)"
    finally:
        good = replace(settings, landing_root=clean_root)
        truncate_warehouse(good)
        load_batch("history", good)
        load_batch(DAY, good)
    assert checksums(settings) == base
