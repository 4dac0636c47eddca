"""Publish churn lists from `marts.mart_churned_customers` as CSV and Parquet with a manifest.

Layout under the export root (a local folder, or any fsspec URL such as `s3://bucket/prefix`):

    <root>/<as_of_date>/churned_customers.csv       every customer with is_churned_90d (includes the 30-day ones)
    <root>/<as_of_date>/churned_customers.parquet
    <root>/<as_of_date>/high_risk_customers.csv     churn_risk_level in (high, critical)
    <root>/<as_of_date>/high_risk_customers.parquet
    <root>/<as_of_date>/manifest.json               as-of date, row counts, sha256, source model, generated at

Idempotent: a rerun for the same as-of date writes a new folder beside the old one and swaps it in by rename, so
readers never see a half-written set (on object stores, where a rename is a copy, `manifest.json` is written last
and is the completeness marker). PII (name, e-mail, phone) is masked unless `SA_EXPORT_INCLUDE_PII=true`.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from include import contract
from include.config import Settings, get_settings
from include.warehouse.connect import connect

SOURCE_MODEL = "marts.mart_churned_customers"
PII_COLUMNS = contract.table("customers").pii  # the mart carries the customer's PII columns under the same names
LISTS = {
    "churned_customers": "is_churned_90d",
    "high_risk_customers": "churn_risk_level in ('high', 'critical')",
}


class ExportError(RuntimeError):
    pass


@dataclass(frozen=True)
class ExportResult:
    as_of_date: str
    folder: str
    rows: dict[str, int]
    pii_included: bool


def mask(column: str, value: Any) -> Any:
    """Keep a stable, non-reversible token so lists can still be joined across days without exposing PII."""
    if value is None:
        return None
    token = hashlib.sha256(f"{column}:{value}".encode()).hexdigest()[:12]
    return f"{token}@masked.invalid" if column == "email" else f"masked-{token}"


def _fetch(where: str, settings: Settings) -> tuple[list[str], list[tuple[Any, ...]]]:
    with connect("reader", settings) as conn, conn.cursor() as cur:
        cur.execute(f"select * from {SOURCE_MODEL} where {where} "
                    "order by estimated_clv desc, customer_id")
        columns = [d.name for d in cur.description or []]
        return columns, cur.fetchall()


def current_as_of_date(settings: Settings | None = None) -> str:
    """The as-of date the mart was built for (one value; anything else means the mart is inconsistent)."""
    with connect("reader", settings or get_settings()) as conn:
        dates = [r[0] for r in conn.execute(f"select distinct as_of_date from {SOURCE_MODEL}")]
    if len(dates) != 1:
        raise ExportError(f"{SOURCE_MODEL} holds {len(dates)} as-of dates ({dates}); expected exactly one")
    return dates[0].isoformat()


def _csv_bytes(columns: list[str], rows: list[tuple[Any, ...]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(rows)
    return out.getvalue().encode()


def _parquet_bytes(columns: list[str], rows: list[tuple[Any, ...]]) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    data = {name: [row[i] for row in rows] for i, name in enumerate(columns)}
    for name, values in data.items():  # numeric → float64 keeps the file readable by every Parquet reader
        if any(isinstance(v, Decimal) for v in values):
            data[name] = [float(v) if v is not None else None for v in values]
    sink = io.BytesIO()
    pq.write_table(pa.table(data), sink, compression="zstd")
    return sink.getvalue()


def export_churn(settings: Settings | None = None, include_pii: bool | None = None) -> ExportResult:
    """Write both lists for the mart's as-of date and swap them into place; returns where and how many rows."""
    import fsspec

    settings = settings or get_settings()
    include_pii = settings.export_include_pii if include_pii is None else include_pii
    as_of = current_as_of_date(settings)
    date.fromisoformat(as_of)
    fs, root = fsspec.core.url_to_fs(settings.export_root)
    final = f"{root.rstrip('/')}/{as_of}"
    staging = f"{root.rstrip('/')}/.staging-{as_of}-{uuid.uuid4().hex[:8]}"
    fs.makedirs(staging, exist_ok=True)
    files: dict[str, dict[str, Any]] = {}
    counts: dict[str, int] = {}
    for name, where in LISTS.items():
        columns, rows = _fetch(where, settings)
        if not include_pii:
            indexes = [columns.index(c) for c in PII_COLUMNS if c in columns]
            rows = [tuple(mask(columns[i], v) if i in indexes else v for i, v in enumerate(row)) for row in rows]
        counts[name] = len(rows)
        for extension, payload in (("csv", _csv_bytes(columns, rows)), ("parquet", _parquet_bytes(columns, rows))):
            filename = f"{name}.{extension}"
            with fs.open(f"{staging}/{filename}", "wb") as handle:
                handle.write(payload)
            files[filename] = {"rows": len(rows), "sha256": hashlib.sha256(payload).hexdigest(), "format": extension}
    manifest = {
        "as_of_date": as_of,
        "source_model": SOURCE_MODEL,
        "generated_at": datetime.now(UTC).isoformat(),
        "pii_included": include_pii,
        "lists": {name: LISTS[name] for name in LISTS},
        "files": files,
    }
    with fs.open(f"{staging}/manifest.json", "wb") as handle:
        handle.write(json.dumps(manifest, indent=2, sort_keys=True).encode())
    _swap_in(fs, staging, final)
    return ExportResult(as_of, f"{settings.export_root.rstrip('/')}/{as_of}", counts, include_pii)


def _swap_in(fs: Any, staging: str, final: str) -> None:
    replaced = None
    if fs.exists(final):
        replaced = f"{final}.replaced-{uuid.uuid4().hex[:8]}"
        fs.mv(final, replaced, recursive=True)
    fs.mv(staging, final, recursive=True)
    if replaced:
        fs.rm(replaced, recursive=True)
