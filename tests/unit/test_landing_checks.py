"""The extract's input rules without a database: batch ids, manifest entries, file content, header layout, and how
a refusal reaches Airflow (one line, no retries)."""

from __future__ import annotations

import gzip
import hashlib
import json
import re
from pathlib import Path

import pytest

from include import contract
from include.ingest import errors
from include.ingest.manifest import batch_folder, read_manifest
from include.ingest.stage import file_layout, inspect_file

TICKETS = contract.table("support_tickets")
HEADER = ",".join(TICKETS.column_names).encode()
ROW = b"T1,C1,P1,TC1,,app,low,open,Hello,v1,2025-11-01T00:00:00+00:00,,,,,2025-11-01T00:00:00+00:00"


@pytest.mark.parametrize("batch", ["../../etc", "/etc", "2025-11-1", "20251101", "history/..", "", "2025-13-01"])
def test_a_batch_is_history_or_a_date_and_nothing_else(batch: str, tmp_path: Path) -> None:
    with pytest.raises(errors.BadBatchId, match="a batch is 'history' or a date YYYY-MM-DD"):
        batch_folder(tmp_path, batch)
    assert batch_folder(tmp_path, "history") == tmp_path / "history"
    assert batch_folder(tmp_path, "2025-11-01") == tmp_path / "2025-11-01"


def _folder(tmp_path: Path, **entry: object) -> Path:
    folder = tmp_path / "2025-11-01"
    folder.mkdir(exist_ok=True)
    data = gzip.compress(HEADER + b"\n" + ROW + b"\n")
    files = {}
    for table in contract.TABLES:
        (folder / f"{table.name}.csv.gz").write_bytes(data)
        files[table.name] = {"file": f"{table.name}.csv.gz", "rows": 1, "sha256": hashlib.sha256(data).hexdigest()}
    files["support_tickets"].update(entry)
    files["support_tickets"] = {k: v for k, v in files["support_tickets"].items() if v is not None}
    (folder / "_manifest.json").write_text(json.dumps({"files": files}))
    return folder


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"rows": None}, "entry 'support_tickets' has no 'rows'"),
        ({"file": None, "sha256": None}, "has no 'file', 'sha256'"),
        ({"rows": "1"}, "rows '1' is not a non-negative integer"),
        ({"rows": 1.0}, "rows 1.0 is not a non-negative integer"),
        ({"rows": True}, "rows True is not a non-negative integer"),
        ({"sha256": "abc"}, "sha256 'abc' is not 64 hex digits"),
        ({"file": "../x.csv.gz"}, "file '../x.csv.gz' is not a file name"),
        ({"file": "/etc/passwd"}, "file '/etc/passwd' is not a file name"),
        ({"file": "sub/x.csv.gz"}, "file 'sub/x.csv.gz' is not a file name"),
        ({"file": ".."}, "file '..' is not a file name"),
    ],
)
def test_a_bad_manifest_entry_is_refused_by_name(tmp_path: Path, entry: dict, message: str) -> None:  # type: ignore[type-arg]
    folder = _folder(tmp_path, **entry)
    with pytest.raises(errors.ManifestMismatch) as refused:
        read_manifest(folder)
    assert message in str(refused.value) and str(folder / "_manifest.json") in str(refused.value)


def test_symlinks_are_refused_not_followed(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    outside = tmp_path / "secret.csv.gz"
    (folder / "support_tickets.csv.gz").rename(outside)
    (folder / "support_tickets.csv.gz").symlink_to(outside)
    with pytest.raises(errors.ManifestMismatch, match=r"support_tickets\.csv\.gz is a symlink"):
        read_manifest(folder)


def _write(tmp_path: Path, raw: bytes, compress: bool = True) -> Path:
    path = tmp_path / "support_tickets.csv.gz"
    path.write_bytes(gzip.compress(raw) if compress else raw)
    return path


@pytest.mark.parametrize(
    ("raw", "compress", "problem"),
    [
        (HEADER + b"\n" + ROW.replace(b"Hello", b"H\xe9llo") + b"\n", True, "line 2, byte 29: not UTF-8 (byte 0xe9)"),
        (HEADER + b"\n" + ROW.replace(b"Hello", b"He\x00llo") + b"\n", True, "line 2, byte 30: NUL byte"),
        (HEADER + b"\nT1,\xe2\x82", True, "line 2, byte 4: not UTF-8 (the text ends inside a character)"),
        (HEADER + b"\n", False, "not a gzip file (it starts with b'ti'"),
    ],
)
def test_unreadable_content_is_named_with_line_and_byte(tmp_path: Path, raw: bytes, compress: bool,
                                                        problem: str) -> None:
    path = _write(tmp_path, raw, compress)
    scan = inspect_file(path)
    assert scan.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert scan.problem is not None and scan.problem.startswith(f"{path}: ") and problem in scan.problem


def test_a_truncated_gzip_still_gets_its_checksum(tmp_path: Path) -> None:
    whole = gzip.compress(HEADER + b"\n" + ROW * 2000)
    path = tmp_path / "support_tickets.csv.gz"
    path.write_bytes(whole[: len(whole) // 2])
    scan = inspect_file(path)
    assert scan.sha256 == hashlib.sha256(whole[: len(whole) // 2]).hexdigest()
    assert scan.problem and "truncated gzip" in scan.problem


def test_clean_multibyte_and_bom_content_passes(tmp_path: Path) -> None:
    text = b"\xef\xbb\xbf" + HEADER + b"\n" + ROW.replace(b"Hello", "Grüße 😀".encode()) + b"\n"
    assert inspect_file(_write(tmp_path, text * 1)).problem is None
    # a character split across two 1 MiB reads is still one valid character
    filler = b"a" * ((1 << 20) - 1)
    assert inspect_file(_write(tmp_path, filler + "é".encode() + b"\n")).problem is None


def test_header_is_mapped_by_name_with_a_bom_and_unknown_columns(tmp_path: Path) -> None:
    names = list(reversed(TICKETS.column_names))
    header = ",".join([names[0], "source_system", *names[1:]]).encode()
    layout = file_layout(TICKETS, _write(tmp_path, b"\xef\xbb\xbf" + header + b"\n"))
    assert layout.fields[0] == names[0] and layout.fields[1] is None and layout.fields[2:] == tuple(names[1:])
    assert layout.staging_columns()[1] == "_ignored_1"
    assert layout.note() and "source_system" in layout.note()


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (HEADER.replace(b",subject", b""), "missing ['subject']"),
        (HEADER + b",priority", "column(s) ['priority'] appear more than once"),
        (b"", "empty file"),
    ],
)
def test_a_header_without_every_contract_column_once_is_refused(tmp_path: Path, header: bytes, message: str) -> None:
    with pytest.raises(errors.SchemaDrift, match=re.escape(message)):
        file_layout(TICKETS, _write(tmp_path, header + b"\n" if header else b""))


def test_every_text_column_has_a_maximum_length() -> None:
    assert [c.name for t in contract.TABLES for c in t.columns if c.pg_type == "text" and not c.max_length] == []


def test_a_refusal_fails_the_airflow_task_at_once_in_one_line() -> None:
    from airflow.sdk.exceptions import AirflowFailException

    with pytest.raises(AirflowFailException) as failed, errors.fail_at_once():
        raise errors.UnreadableFile("/landing/2025-11-01/x.csv.gz: truncated gzip")
    assert str(failed.value) == "UnreadableFile: /landing/2025-11-01/x.csv.gz: truncated gzip"
    assert failed.value.__cause__ is None and failed.value.__suppress_context__
    with pytest.raises(ConnectionError), errors.fail_at_once():  # anything else keeps Airflow's retries
        raise ConnectionError("server closed the connection")
