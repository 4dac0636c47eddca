"""A corpus of hostile landing input: one clean day folder, damaged one way per variant, with its expected outcome.

Each variant rewrites a copy of a clean `2025-11-01` folder (or gives a bad run conf) and says what the extract must
do: `landed` (the run succeeds), `quarantined` (the run succeeds, the named rows are in audit.quarantine) or
`refused` (the named task fails at once, its one-line message contains `words`, no analytics table changes). The
manifest is rewritten to describe the damaged file (its sha256 and row count), the way a source system that
produced the damage would: the damage must be found in the content, not by the checksum. Used by the integration
tests (the extract's functions) and tests/e2e/test_extract_corpus.py (the extract DAG).
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

DAY = "2025-11-01"
TICKETS = "support_tickets"
LONG_NAME = "Bartholomew " * 25  # 300 characters: PII longer than the contract's 200
LONG_EMAIL = "x" * 290 + "@example.com"
NOT_AN_EMAIL = "Jane Q Public +1-555-0100"  # PII in the e-mail column: breaks its pattern


@dataclass(frozen=True)
class Variant:
    id: str
    outcome: str  # landed | quarantined | refused
    mutate: Callable[[Path], None] | None = None  # rewrites the day folder
    words: tuple[str, ...] = ()  # in the refusal message / the quarantine reasons
    task: str = "verify_delivery"  # the task a refusal fails
    conf: dict[str, str] | None = None  # run conf instead of the logical date
    env: dict[str, str] = field(default_factory=dict)
    absent: tuple[str, ...] = ()  # never in the message or the quarantine reasons (PII values)
    quarantined: int = 0


def manifest(folder: Path) -> dict:  # type: ignore[type-arg]
    return json.loads((folder / "_manifest.json").read_text())


def write_manifest(folder: Path, body: dict) -> None:  # type: ignore[type-arg]
    (folder / "_manifest.json").write_text(json.dumps(body, indent=2))


def edit_entry(table: str, edit: Callable[[dict], None]) -> Callable[[Path], None]:  # type: ignore[type-arg]
    def mutate(folder: Path) -> None:
        body = manifest(folder)
        edit(body["files"][table])
        write_manifest(folder, body)
    return mutate


def text(folder: Path, table: str = TICKETS) -> bytes:
    return gzip.decompress((folder / f"{table}.csv.gz").read_bytes())


def put(folder: Path, table: str, raw: bytes, rows_delta: int = 0) -> None:
    """Replace a file's bytes as they are (no compression added) and describe them in the manifest."""
    path = folder / f"{table}.csv.gz"
    path.write_bytes(raw)
    body = manifest(folder)
    body["files"][table]["sha256"] = hashlib.sha256(raw).hexdigest()
    body["files"][table]["rows"] += rows_delta
    write_manifest(folder, body)


def content(edit: Callable[[bytes], bytes], table: str = TICKETS, rows_delta: int = 0) -> Callable[[Path], None]:
    """Rewrite the decompressed text of a file (then gzip it again)."""
    def mutate(folder: Path) -> None:
        put(folder, table, gzip.compress(edit(text(folder, table)), mtime=0), rows_delta)
    return mutate


def raw(edit: Callable[[bytes], bytes], table: str = TICKETS) -> Callable[[Path], None]:
    """Rewrite the file's bytes as stored (compressed)."""
    def mutate(folder: Path) -> None:
        put(folder, table, edit((folder / f"{table}.csv.gz").read_bytes()))
    return mutate


def _records(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))


def _csv(records: list[list[str]], terminator: str = "\n") -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator=terminator).writerows(records)
    return out.getvalue().encode("utf-8")


def columns(edit: Callable[[list[str]], list[str]], table: str = TICKETS) -> Callable[[Path], None]:
    """Rearrange every record's fields, the header's too, with the same function of the header's names."""
    def rewrite(data: bytes) -> bytes:
        records = _records(data)
        order = edit(list(records[0]))
        rows = [dict(zip(records[0], r, strict=True)) for r in records[1:]]
        return _csv([order] + [[row.get(name, "value-of-a-new-column") for name in order] for row in rows])
    return content(rewrite, table)


def field_of(table_row: int, column: str, value: str, table: str = TICKETS) -> Callable[[Path], None]:
    """Set one field of the data row `table_row` (1 = the first after the header)."""
    def rewrite(data: bytes) -> bytes:
        records = _records(data)
        records[table_row][records[0].index(column)] = value
        return _csv(records)
    return content(rewrite, table)


def new_customer(**values: str) -> Callable[[Path], None]:
    """Append a customer (the day's customers file may be header-only)."""
    row = {"customer_id": "C99999998", "customer_name": "Ann Example", "email": "ann@example.com",
           "phone": "+31 20 555 0100", "customer_segment": "Standard", "city": "Utrecht",
           "signup_date": "2025-10-31", "updated_at": "2025-11-01T08:00:00+00:00", **values}

    def rewrite(data: bytes) -> bytes:
        records = _records(data)
        return _csv([*records, [row[name] for name in records[0]]])
    return content(rewrite, "customers", rows_delta=1)


def replace_bytes(old: bytes, new: bytes, line: int = 2) -> Callable[[bytes], bytes]:
    """Replace the first `old` on physical line `line` of the text."""
    def edit(data: bytes) -> bytes:
        lines = data.split(b"\n")
        assert old in lines[line - 1], (old, lines[line - 1])
        lines[line - 1] = lines[line - 1].replace(old, new, 1)
        return b"\n".join(lines)
    return edit


def outside_file(name: str) -> Callable[[Path], None]:
    """Point the tickets entry at `name` (relative or absolute), a copy of the real file one folder up."""
    def mutate(folder: Path) -> None:
        target = (folder / name) if not os.path.isabs(name) else Path(name)
        if not os.path.isabs(name):
            shutil.copy(folder / f"{TICKETS}.csv.gz", target)
        body = manifest(folder)
        body["files"][TICKETS]["file"] = name
        write_manifest(folder, body)
    return mutate


def symlinked(folder: Path) -> None:
    """The tickets file is a symlink to a copy outside the folder (same bytes, so the sha256 matches)."""
    path = folder / f"{TICKETS}.csv.gz"
    outside = folder.parent / "elsewhere.csv.gz"
    shutil.move(path, outside)
    path.symlink_to(outside)


def two_members(data: bytes) -> bytes:
    """gzip in two members (what `cat a.gz b.gz` gives): valid gzip, every reader must read both."""
    half = data.index(b"\n", len(data) // 2) + 1
    return gzip.compress(data[:half], mtime=0) + gzip.compress(data[half:], mtime=0)


def _drop(name: str) -> Callable[[list[str]], list[str]]:
    return lambda header: [c for c in header if c != name]


QUARANTINE_OK = {"SA_MAX_QUARANTINED_PARSE_ROWS": "5", "SA_MAX_QUARANTINED_KEY_ROWS": "5"}
RULE_OK = {"SA_MAX_QUARANTINED_RULE_ROWS": "5"}
CHANNELS = "is not one of app, web, phone, email, chat"

CORPUS: tuple[Variant, ...] = (
    # --- landed: unusual but valid input ---
    Variant("utf8_bom", "landed", content(lambda d: b"\xef\xbb\xbf" + d)),
    Variant("columns_reordered", "landed", columns(lambda h: list(reversed(h)))),
    Variant("unknown_extra_column", "landed", columns(lambda h: [*h[:3], "source_system", *h[3:]]),
            words=("ignored column(s) not in the contract: source_system",)),
    Variant("bom_reordered_and_extra", "landed", lambda f: (columns(lambda h: ["loaded_by", *reversed(h)])(f),
                                                           content(lambda d: b"\xef\xbb\xbf" + d)(f))),
    Variant("lf_line_ends", "landed", content(lambda d: d.replace(b"\r\n", b"\n"))),  # the source sends CRLF
    Variant("gzip_in_two_members", "landed", raw(lambda b: two_members(gzip.decompress(b)))),
    Variant("multibyte_utf8_text", "landed", field_of(1, "subject", "Überweisung fehlgeschlagen – 払い戻し 😞")),
    # --- quarantined: one row too long, the rest lands (thresholds raised) ---
    Variant("subject_10_mb", "quarantined", field_of(2, "subject", "x" * 10_000_000), env=QUARANTINE_OK,
            words=("length: subject is 10000000 characters, the contract allows 1000",), quarantined=1),
    Variant("ticket_id_too_long", "quarantined", field_of(1, "ticket_id", "T" * 65), env=QUARANTINE_OK,
            words=("length: ticket_id is 65 characters, the contract allows 64",), quarantined=1),
    Variant("pii_name_too_long", "quarantined", new_customer(customer_name=LONG_NAME), env=QUARANTINE_OK,
            words=("length: customer_name is 300 characters, the contract allows 200",), absent=("Bartholomew",),
            quarantined=1),
    Variant("pii_email_too_long", "quarantined", new_customer(email=LONG_EMAIL), env=QUARANTINE_OK,
            words=("length: email is 302 characters, the contract allows 254",), absent=("xxxxxxxx",),
            quarantined=1),
    # --- quarantined: one row breaks a contract rule, the rest lands (rule threshold raised) ---
    Variant("rule_satisfaction_out_of_range", "quarantined", field_of(1, "satisfaction_score", "7"), env=RULE_OK,
            words=("rule: satisfaction_score 7 is outside 1..5",), quarantined=1),
    Variant("rule_channel_unknown", "quarantined", field_of(1, "channel", "fax"), env=RULE_OK,
            words=(f"rule: channel 'fax' {CHANNELS}",), quarantined=1),
    Variant("rule_negative_resolution_hours", "quarantined", field_of(1, "resolution_time_hours", "-1.5"),
            env=RULE_OK, words=("rule: resolution_time_hours -1.5 is below the minimum 0",), quarantined=1),
    Variant("rule_resolution_hours_nan", "quarantined", field_of(1, "resolution_time_hours", "NaN"), env=RULE_OK,
            words=("rule: resolution_time_hours NaN is not a finite number",), quarantined=1),
    Variant("rule_resolved_before_created", "quarantined", field_of(1, "resolved_at", "2000-01-01T00:00:00+00:00"),
            env=RULE_OK, words=("rule: resolved_at '2000-01-01T00:00:00+00:00' is before created_at '",),
            quarantined=1),
    Variant("rule_timestamp_in_the_future", "quarantined", field_of(1, "updated_at", "2099-01-01T00:00:00+00:00"),
            env=RULE_OK, words=("rule: updated_at '2099-01-01T00:00:00+00:00' is later than the load time plus "
                                "SA_FUTURE_TOLERANCE_HOURS (",), quarantined=1),
    Variant("rule_pii_email_not_an_address", "quarantined", new_customer(email=NOT_AN_EMAIL), env=RULE_OK,
            words=("rule: email does not match the pattern ^[^@ ]+@[^@ ]+[.][^@ ]+$",), absent=("Jane", "0100"),
            quarantined=1),
    # --- refused: the file ---
    Variant("not_utf8_latin1", "refused", content(replace_bytes(b"Card declined", b"Carte refus\xe9e", line=3)),
            words=("support_tickets.csv.gz: line 3, byte", "not UTF-8 (byte 0xe9)")),
    Variant("utf16_file", "refused", content(lambda d: d.decode().encode("utf-16")),
            words=("support_tickets.csv.gz: line 1, byte 1: not UTF-8 (byte 0xff)",)),
    Variant("nul_byte", "refused", content(replace_bytes(b",app,", b",a\x00pp,", line=2)),
            words=("support_tickets.csv.gz: line 2, byte", "NUL byte")),
    Variant("truncated_gzip", "refused", raw(lambda b: b[: len(b) // 2]),
            words=("support_tickets.csv.gz: truncated gzip",)),
    Variant("plain_csv_not_gzip", "refused", raw(gzip.decompress),
            words=("support_tickets.csv.gz: not a gzip file (it starts with b'ti'",)),
    Variant("zip_not_gzip", "refused", raw(lambda b: b"PK\x03\x04" + b[4:]),
            words=("support_tickets.csv.gz: not a gzip file (it starts with b'PK'",)),
    Variant("corrupt_deflate_stream", "refused", raw(lambda b: b[:20] + bytes(x ^ 0xFF for x in b[20:60]) + b[60:]),
            words=("support_tickets.csv.gz: corrupt gzip",)),
    Variant("empty_file", "refused", raw(lambda b: gzip.compress(b"", mtime=0)),
            words=("support_tickets.csv.gz: empty file (no header row)",)),
    Variant("missing_required_column", "refused", columns(_drop("customer_id")),
            words=("support_tickets.csv.gz: columns do not match", "missing ['customer_id']")),
    Variant("missing_optional_column", "refused", columns(_drop("subject")), words=("missing ['subject']",)),
    Variant("column_twice", "refused", columns(lambda h: [*h, "priority"]),
            words=("column(s) ['priority'] appear more than once",)),
    # --- refused: the manifest ---
    Variant("manifest_entry_without_rows", "refused", edit_entry(TICKETS, lambda e: e.pop("rows")),
            words=("_manifest.json: entry 'support_tickets' has no 'rows'",)),
    Variant("manifest_entry_without_sha256", "refused", edit_entry(TICKETS, lambda e: e.pop("sha256")),
            words=("entry 'support_tickets' has no 'sha256'",)),
    Variant("manifest_entry_without_file", "refused", edit_entry("customers", lambda e: e.pop("file")),
            words=("entry 'customers' has no 'file'",)),
    Variant("manifest_rows_a_string", "refused", edit_entry(TICKETS, lambda e: e.update(rows="14")),
            words=("rows '14' is not a non-negative integer",)),
    Variant("manifest_rows_a_fraction", "refused", edit_entry(TICKETS, lambda e: e.update(rows=13.5)),
            words=("rows 13.5 is not a non-negative integer",)),
    Variant("manifest_rows_negative", "refused", edit_entry(TICKETS, lambda e: e.update(rows=-1)),
            words=("rows -1 is not a non-negative integer",)),
    Variant("manifest_path_parent", "refused", outside_file("../x.csv.gz"),
            words=("file '../x.csv.gz' is not a file name in",)),
    Variant("manifest_path_absolute", "refused", outside_file("/etc/passwd"),
            words=("file '/etc/passwd' is not a file name in",)),
    Variant("file_is_a_symlink", "refused", symlinked, words=("support_tickets.csv.gz is a symlink",)),
    Variant("manifest_not_json", "refused", lambda f: (f / "_manifest.json").write_text("{'files': "),
            words=("_manifest.json is not a valid manifest",)),
    Variant("manifest_sha_mismatch", "refused", edit_entry(TICKETS, lambda e: e.update(sha256="0" * 64)),
            words=("support_tickets.csv.gz: sha256",)),
    Variant("long_subject_over_threshold", "refused", field_of(2, "subject", "y" * 5000), task="load_support_tickets",
            words=("length: subject is 5000 characters", "SA_MAX_QUARANTINED_PARSE_ROWS=0"), absent=("yyyy",)),
    # a rule break is not a parse or key problem: raising those thresholds does not let it through
    Variant("rule_break_over_threshold", "refused", field_of(2, "channel", "fax"), task="load_support_tickets",
            env=QUARANTINE_OK, words=(f"line 3: rule: channel 'fax' {CHANNELS}", "support_tickets.csv.gz",
                                      "SA_MAX_QUARANTINED_RULE_ROWS=0", "Nothing was loaded")),
    Variant("rule_pii_email_over_threshold", "refused", new_customer(email=NOT_AN_EMAIL), task="load_customers",
            words=("rule: email does not match the pattern", "customers.csv.gz", "SA_MAX_QUARANTINED_RULE_ROWS=0"),
            absent=("Jane", "0100")),
    # --- refused: the run conf ---
    Variant("conf_batch_path_traversal", "refused", conf={"batch": "../../etc"}, task="resolve_batch",
            words=("'../../etc'",)),
    Variant("conf_batch_absolute_path", "refused", conf={"batch": "/etc"}, task="resolve_batch", words=("'/etc'",)),
    Variant("conf_date_not_a_date", "refused", conf={"date": "2025-13-45"}, task="resolve_batch",
            words=("'2025-13-45'",)),
)
VARIANTS = {v.id: v for v in CORPUS}


def damaged_root(clean_root: Path, variant: Variant, tmp: Path) -> Path:
    """A landing root holding the clean day folder, damaged as the variant says."""
    root = tmp / variant.id / "landing"
    shutil.copytree(clean_root / DAY, root / DAY)
    if variant.mutate is not None:
        variant.mutate(root / DAY)
    return root
