"""Deliberate faults, so the extract and the quality gate can be tested against known damage.

Each defect hits exactly one file (one folder x one table), chosen as `NAME[:TABLE[:DATE]]`: TABLE defaults to
support_tickets, DATE to the first daily folder (`start`); `history` names the history folder. Everything else
in the run is byte-identical to a clean run (the damage is done while streaming, in sinks.py). Except for the
three manifest defects, the manifest describes the damaged file as written (its sha256, its row count, its
header), so the damage must be found by reading the content, not by comparing with the manifest.

"The target row" below is the third data row of the file (physical line 4; the header is line 1), or the last
row when the file has fewer; the report gives the exact line. Fields never contain line breaks, so physical
lines and records coincide.

| defect | effect |
|---|---|
| malformed_row | the target row's line keeps only its first 3 fields (wrong field count) |
| duplicate_pk | the target row is written twice in a row; the report names the second copy's line |
| null_required | a required field of the target row is emptied (NULL): see NULL_REQUIRED |
| orphan_fk | the target row's customer_id becomes C99999999, which no customer has (tables with that FK) |
| out_of_range | satisfaction_score 7 / monthly_revenue -25.00 / monthly_fee -1.00 on the target row |
| unknown_category | channel 'fax' / customer_segment 'Gold' / device 'blackberry' / severity 'catastrophic' |
| bad_type | a date/timestamp field of the target row becomes 'not-a-date': see BAD_TYPE |
| missing_column | one column (COLUMN_TARGET) is dropped from the header and every row (header line 1) |
| renamed_column | that column's header is renamed (RENAMED); the data is unchanged |
| extra_column | an undocumented last column `source_system` = 'crm-legacy' is appended |
| empty_file | the .csv.gz holds a gzip stream of zero bytes: no header, no rows |
| missing_manifest | the folder is written without `_manifest.json` (TABLE is ignored) |
| manifest_sha_mismatch | the manifest's sha256 for the file is the hash of other bytes |
| manifest_count_mismatch | the manifest's row count for the file is one more than the rows written |
| stale_data | every timestamp/date field of every row is moved 28 days back (freshness checks fail) |
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from .schema import TABLE_NAMES

DEFECTS: tuple[str, ...] = (
    "malformed_row",
    "duplicate_pk",
    "null_required",
    "orphan_fk",
    "out_of_range",
    "unknown_category",
    "bad_type",
    "missing_column",
    "renamed_column",
    "extra_column",
    "empty_file",
    "missing_manifest",
    "manifest_sha_mismatch",
    "manifest_count_mismatch",
    "stale_data",
)
MANIFEST_DEFECTS = frozenset({"missing_manifest", "manifest_sha_mismatch", "manifest_count_mismatch"})
ROW_DEFECTS = frozenset(
    {"malformed_row", "duplicate_pk", "null_required", "orphan_fk", "out_of_range", "unknown_category", "bad_type"}
)
HISTORY = "history"
TARGET_ROW = 2
"""0-based index of the damaged data row (line 4), when the file has that many rows."""
MALFORMED_FIELDS = 3
ORPHAN_CUSTOMER = "C99999999"
STALE_DAYS = 28
EPOCH_TS = "1970-01-01T00:00:00+00:00"

NULL_REQUIRED: dict[str, str] = {
    "support_tickets": "customer_id",
    "customers": "customer_segment",
    "products": "product_type",
    "customer_products": "customer_id",
    "ticket_categories": "category_name",
    "root_causes": "severity",
    "customer_logins": "customer_id",
}
BAD_TYPE: dict[str, str] = {
    "support_tickets": "created_at",
    "customers": "signup_date",
    "products": "launched_at",
    "customer_products": "opened_at",
    "ticket_categories": "updated_at",
    "root_causes": "updated_at",
    "customer_logins": "login_at",
}
VALUE_EDITS: dict[str, dict[str, tuple[str, str]]] = {
    "null_required": {t: (c, "") for t, c in NULL_REQUIRED.items()},
    "orphan_fk": {
        t: ("customer_id", ORPHAN_CUSTOMER) for t in ("support_tickets", "customer_products", "customer_logins")
    },
    "out_of_range": {
        "support_tickets": ("satisfaction_score", "7"),
        "customer_products": ("monthly_revenue", "-25.00"),
        "products": ("monthly_fee", "-1.00"),
    },
    "unknown_category": {
        "support_tickets": ("channel", "fax"),
        "customers": ("customer_segment", "Gold"),
        "customer_logins": ("device", "blackberry"),
        "root_causes": ("severity", "catastrophic"),
    },
    "bad_type": {t: (c, "not-a-date") for t, c in BAD_TYPE.items()},
}
COLUMN_TARGET: dict[str, str] = {
    "support_tickets": "priority",
    "customers": "email",
    "products": "product_type",
    "customer_products": "product_id",
    "ticket_categories": "category_name",
    "root_causes": "severity",
    "customer_logins": "device",
}
RENAMED: dict[str, str] = {
    "priority": "ticket_priority",
    "email": "email_address",
    "product_type": "type",
    "product_id": "product",
    "category_name": "name",
    "severity": "severity_level",
    "device": "device_type",
}
EXTRA_COLUMN = ("source_system", "crm-legacy")
TIMESTAMP_COLUMNS = frozenset({"updated_at", "created_at", "first_response_at", "resolved_at", "login_at"})
DATE_COLUMNS = frozenset({"signup_date", "launched_at", "opened_at", "closed_at"})


class DefectNotApplicable(ValueError):
    """The requested defect cannot be placed in the requested file (e.g. a row defect in a header-only file)."""


@dataclass(frozen=True)
class DefectSpec:
    name: str
    table: str = "support_tickets"
    folder: str | date | None = None
    """'history', a date (or its ISO text), or None for the first daily folder."""

    @classmethod
    def parse(cls, text: str) -> DefectSpec:
        """`NAME[:TABLE[:DATE]]`, e.g. `orphan_fk`, `bad_type:customers`, `empty_file:products:history`."""
        parts = text.split(":")
        if not 1 <= len(parts) <= 3 or not parts[0]:
            raise ValueError(f"defect spec {text!r} is not NAME[:TABLE[:DATE]]")
        name = parts[0]
        table = parts[1] if len(parts) > 1 and parts[1] else "support_tickets"
        folder = parts[2] if len(parts) > 2 and parts[2] else None
        if folder not in (None, HISTORY):
            date.fromisoformat(folder)
        return cls(name, table, folder).validated()

    def validated(self) -> DefectSpec:
        if self.name not in DEFECTS:
            raise ValueError(f"unknown defect {self.name!r}; choose from {', '.join(DEFECTS)}")
        if self.table not in TABLE_NAMES:
            raise ValueError(f"unknown table {self.table!r}; choose from {', '.join(TABLE_NAMES)}")
        edits = VALUE_EDITS.get(self.name)
        if edits is not None and self.table not in edits:
            raise DefectNotApplicable(f"{self.name} is defined for tables {sorted(edits)}, not {self.table}")
        return self

    def resolve(self, first_day: date) -> DefectSpec:
        """The same spec with its folder spelled as written on disk ('history' or YYYY-MM-DD)."""
        folder = self.folder or first_day
        return DefectSpec(self.name, self.table, folder.isoformat() if isinstance(folder, date) else folder)


@dataclass(frozen=True)
class DefectReport:
    """Where a defect was put: the extract's tests assert that its quarantine names this line."""

    name: str
    table: str
    folder: str
    file: Path
    line: int | None
    """Physical line in the decompressed CSV (header = 1); None when the whole file or the manifest is hit."""
    column: str | None
    key: str | None
    """Primary key of the damaged row, when there is one."""
    detail: str
