"""Defect injection: each defect lands in exactly the file asked for, on the line the report names, and nowhere else.

Every test compares a damaged run with a clean run of the same seed and scale, byte for byte.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
from datetime import date
from pathlib import Path

import pytest

from include.simulator import DEFECTS, MANIFEST, TABLES, DefectNotApplicable, DefectSpec, generate

SCALE = 0.1
START, END = date(2025, 11, 1), date(2025, 11, 2)
DAY = START.isoformat()
TICKETS = f"{DAY}/support_tickets.csv.gz"
DAY_MANIFEST = f"{DAY}/{MANIFEST}"
COLUMNS = {t.name: t.columns for t in TABLES}
ROW_DEFECTS = (
    "malformed_row",
    "duplicate_pk",
    "null_required",
    "orphan_fk",
    "out_of_range",
    "unknown_category",
    "bad_type",
)


def hashes(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in root.rglob("*") if p.is_file()
    }


def lines(path: Path) -> list[str]:
    return gzip.decompress(path.read_bytes()).decode("utf-8").split("\r\n")[:-1]


def fields(line: str) -> list[str]:
    return next(csv.reader(io.StringIO(line), strict=True))


def run(root: Path, *defects: str | DefectSpec):
    return generate(root, scale=SCALE, start=START, end=END, defects=defects)


@pytest.fixture(scope="module")
def simulator_clean(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("sim_clean")
    run(root)
    return root


def changed_files(clean: Path, damaged: Path) -> set[str]:
    a, b = hashes(clean), hashes(damaged)
    return {k for k in a.keys() | b.keys() if a.get(k) != b.get(k)}


@pytest.mark.parametrize("name", DEFECTS)
def test_each_defect_touches_only_its_file_and_its_folder_manifest(simulator_clean, tmp_path, name):
    report = run(tmp_path, name)
    assert [(d.name, d.table, d.folder) for d in report.defects] == [(name, "support_tickets", DAY)]
    expected = (
        {DAY_MANIFEST}
        if name in ("missing_manifest", "manifest_sha_mismatch", "manifest_count_mismatch")
        else {
            TICKETS,
            DAY_MANIFEST,
        }
    )
    assert changed_files(simulator_clean, tmp_path) == expected


@pytest.mark.parametrize("name", ROW_DEFECTS)
def test_row_defects_damage_the_reported_line(simulator_clean, tmp_path, name):
    report = run(tmp_path, name)
    (defect,) = report.defects
    clean, damaged = lines(simulator_clean / TICKETS), lines(tmp_path / TICKETS)
    assert len(clean) >= 4, "the target row is the third data row"
    n = defect.line
    assert n == (5 if name == "duplicate_pk" else 4)
    row = damaged[n - 1]
    if name == "malformed_row":
        assert len(fields(row)) == 3 and damaged[: n - 1] + damaged[n:] == clean[: n - 1] + clean[n:]
        assert clean[n - 1].startswith(row + ",")
    elif name == "duplicate_pk":
        assert row == damaged[n - 2] == clean[n - 2]
        assert damaged[: n - 1] + damaged[n:] == clean
        assert defect.key == fields(row)[0]
    else:
        diff = [i for i, (a, b) in enumerate(zip(clean, damaged, strict=True)) if a != b]
        assert diff == [n - 1]
        value = dict(zip(COLUMNS["support_tickets"], fields(row), strict=True))
        expected = {
            "null_required": ("customer_id", ""),
            "orphan_fk": ("customer_id", "C99999999"),
            "out_of_range": ("satisfaction_score", "7"),
            "unknown_category": ("channel", "fax"),
            "bad_type": ("created_at", "not-a-date"),
        }[name]
        assert (defect.column, value[defect.column]) == expected
        assert defect.key == value["ticket_id"]
    manifest = json.loads((tmp_path / DAY_MANIFEST).read_text())["files"]["support_tickets"]
    assert manifest["rows"] == len(damaged) - 1
    assert manifest["sha256"] == hashlib.sha256((tmp_path / TICKETS).read_bytes()).hexdigest()


def test_orphan_customer_exists_nowhere(tmp_path):
    report = run(tmp_path, "orphan_fk")
    customers = {fields(line)[0] for p in tmp_path.rglob("customers.csv.gz") for line in lines(p)[1:]}
    assert report.defects[0].detail.startswith("customer_id set to 'C99999999'")
    assert "C99999999" not in customers


@pytest.mark.parametrize(
    ("name", "header_check"),
    [
        ("missing_column", lambda h: "priority" not in h and len(h) == 15),
        ("renamed_column", lambda h: "ticket_priority" in h and "priority" not in h and len(h) == 16),
        ("extra_column", lambda h: h[-1] == "source_system" and len(h) == 17),
    ],
)
def test_column_defects_change_header_and_rows_consistently(simulator_clean, tmp_path, name, header_check):
    report = run(tmp_path, name)
    (defect,) = report.defects
    assert defect.line == 1
    damaged = lines(tmp_path / TICKETS)
    header = fields(damaged[0])
    assert header_check(header)
    assert all(len(fields(line)) == len(header) for line in damaged)
    assert len(damaged) == len(lines(simulator_clean / TICKETS))
    if name == "extra_column":
        assert all(fields(line)[-1] == "crm-legacy" for line in damaged[1:])
    manifest = json.loads((tmp_path / DAY_MANIFEST).read_text())["files"]["support_tickets"]
    assert manifest["columns"] == header


def test_empty_file_is_a_valid_gzip_of_nothing(tmp_path):
    run(tmp_path, "empty_file")
    assert gzip.decompress((tmp_path / TICKETS).read_bytes()) == b""
    assert json.loads((tmp_path / DAY_MANIFEST).read_text())["files"]["support_tickets"]["rows"] == 0


def test_manifest_defects(simulator_clean, tmp_path):
    report = run(tmp_path / "a", "missing_manifest")
    assert not (tmp_path / "a" / DAY_MANIFEST).exists()
    assert (tmp_path / "a" / "history" / MANIFEST).exists()
    assert report.folder(DAY).manifest is None

    run(tmp_path / "b", "manifest_sha_mismatch")
    entry = json.loads((tmp_path / "b" / DAY_MANIFEST).read_text())["files"]["support_tickets"]
    assert entry["sha256"] != hashlib.sha256((tmp_path / "b" / TICKETS).read_bytes()).hexdigest()
    assert entry["rows"] == len(lines(tmp_path / "b" / TICKETS)) - 1

    run(tmp_path / "c", "manifest_count_mismatch")
    entry = json.loads((tmp_path / "c" / DAY_MANIFEST).read_text())["files"]["support_tickets"]
    assert entry["rows"] == len(lines(tmp_path / "c" / TICKETS))
    assert entry["sha256"] == hashlib.sha256((tmp_path / "c" / TICKETS).read_bytes()).hexdigest()


def test_stale_data_moves_every_timestamp_weeks_back(simulator_clean, tmp_path):
    run(tmp_path, "stale_data")
    clean = [
        dict(zip(COLUMNS["support_tickets"], fields(x), strict=True)) for x in lines(simulator_clean / TICKETS)[1:]
    ]
    stale = [dict(zip(COLUMNS["support_tickets"], fields(x), strict=True)) for x in lines(tmp_path / TICKETS)[1:]]
    assert [r["ticket_id"] for r in stale] == [r["ticket_id"] for r in clean]
    assert max(r["updated_at"] for r in stale) < "2025-10-05"
    assert all(r["updated_at"][:10] == DAY for r in clean)
    assert all((r["resolved_at"] == "") == (c["resolved_at"] == "") for r, c in zip(stale, clean, strict=True))


def test_defects_can_target_other_tables_and_the_history_folder(simulator_clean, tmp_path):
    report = run(
        tmp_path, "bad_type:customers:history", "unknown_category:customer_logins:2025-11-02", "empty_file:products"
    )
    assert changed_files(simulator_clean, tmp_path) == {
        "history/customers.csv.gz",
        f"history/{MANIFEST}",
        "2025-11-02/customer_logins.csv.gz",
        f"2025-11-02/{MANIFEST}",
        f"{DAY}/products.csv.gz",
        DAY_MANIFEST,
    }
    by_name = {d.name: d for d in report.defects}
    line = lines(tmp_path / "history" / "customers.csv.gz")[by_name["bad_type"].line - 1]
    assert dict(zip(COLUMNS["customers"], fields(line), strict=True))["signup_date"] == "not-a-date"
    line = lines(tmp_path / "2025-11-02" / "customer_logins.csv.gz")[by_name["unknown_category"].line - 1]
    assert fields(line)[3] == "blackberry"


def test_a_row_defect_in_a_short_file_hits_its_last_row(tmp_path):
    report = generate(tmp_path, scale=0.05, start=START, end=START, defects=["out_of_range"])
    data = lines(tmp_path / TICKETS)
    (defect,) = report.defects
    assert defect.line == min(4, len(data))
    assert fields(data[defect.line - 1])[14] == "7"


def test_a_row_defect_needs_rows(tmp_path):
    with pytest.raises(DefectNotApplicable, match="no rows"):
        generate(tmp_path, scale=0.05, start=START, end=START, defects=["null_required:products"])


def test_defect_specs_parse_with_defaults():
    assert DefectSpec.parse("orphan_fk") == DefectSpec("orphan_fk", "support_tickets", None)
    assert DefectSpec.parse("bad_type:customers:history") == DefectSpec("bad_type", "customers", "history")
    assert DefectSpec.parse("empty_file::2025-11-02") == DefectSpec("empty_file", "support_tickets", "2025-11-02")
    with pytest.raises(ValueError):
        DefectSpec.parse("bad_type:customers:yesterday")
    with pytest.raises(ValueError, match="unknown table"):
        DefectSpec.parse("bad_type:tickets")
