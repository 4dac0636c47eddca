"""The expectations of the validation gate, derived from the source contract (pure: no GX context, no database).

Two suites per source table:
- `<table>.batch` validates the rows landed by one batch (`_batch_id` = the logical date or `history`): columns and
  types, key and required columns, allowed values, ranges, resolved_at ≥ created_at, orphan foreign keys, the row
  count against the manifest, and freshness for the logical date.
- `<table>.table` validates the whole table: primary key unique and not null, no orphan foreign keys.

The per-row rules among these (allowed values, ranges, patterns, resolved_at ≥ created_at, …) are enforced by the
extract already (a breaking row is quarantined and never lands, include/ingest/checks.py); the gate checks them again
on what landed — defence in depth against a row written behind the extract.

Values only known at run time come in as expectation parameters (see `run_parameters` in `validate.py`).

PII (the contract's `Table.pii` columns) never leaves the warehouse through the gate: GX reads no value at all out of
a table with PII columns (`result_format`), and a PII column may only carry expectations about its values one by one
(`expect_column_values_to_*`), whose results are counts — never a column aggregate, whose observed value would be a
value of the column (a max e-mail address, a most common name).
"""

from __future__ import annotations

from typing import Any

from include import contract
from include.config import SCHEMA_SOURCES

# How GX (SQLAlchemy) names the contract's PostgreSQL types.
GX_TYPES = {
    "text": "TEXT",
    "date": "DATE",
    "timestamptz": "TIMESTAMP WITH TIME ZONE",
    "numeric": "NUMERIC",
    "numeric(12,2)": "NUMERIC(12, 2)",
    "integer": "INTEGER",
}

RESULT_FORMAT: dict[str, Any] = {"result_format": "SUMMARY", "partial_unexpected_count": 5}
PII_RESULT_FORMAT: dict[str, Any] = {**RESULT_FORMAT, "exclude_unexpected_values": True}
PII_SAFE_PREFIX = "expect_column_values_to_"  # per-value expectations: their results on a PII column are counts

EXPECTED_ROWS = "expected_rows"
FRESH_FROM = "fresh_from"
FRESH_UNTIL = "fresh_until"


def suite_name(table: str, scope: str) -> str:
    return f"{table}.{scope}"


def result_format(table: contract.Table) -> dict[str, Any]:
    """What GX returns per expectation for `table`'s checkpoints: counts and up to 5 unexpected values — or, for a
    table with PII columns, counts only (GX then fetches no value, so neither `audit.validation_results`, the data
    docs nor an alert can show one; the other columns of that table lose their samples too: GX sets the format per
    checkpoint, not per expectation)."""
    return dict(PII_RESULT_FORMAT if table.pii else RESULT_FORMAT)


def _check_pii_columns(table: contract.Table, expectations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Refuse an expectation on a PII column whose result could carry one of its values."""
    for expectation in expectations:
        kwargs = expectation["kwargs"]
        touched = sorted({kwargs.get("column"), kwargs.get("column_A"), kwargs.get("column_B")} & set(table.pii))
        if touched and not expectation["type"].startswith(PII_SAFE_PREFIX):
            raise ValueError(f"{expectation['type']} on {table.name}.{', '.join(touched)}: a PII column may only have "
                             f"{PII_SAFE_PREFIX}* expectations (an aggregate's observed value would be a raw value)")
    return expectations


def _orphan_query(table: contract.Table, column: contract.Column) -> str:
    parent_table, parent_column = column.references.split(".")  # type: ignore[union-attr]
    # An anti-join (NOT EXISTS): `NOT IN (subquery)` is planned as a subplan, hashed only while the parent's keys fit
    # in work_mem — past that (scale 100: a day's check ran for over 15 minutes) it rescans the parent for every row.
    # GX substitutes `{batch}` with an aliased subquery, which the query cannot alias again: the parent's key is
    # renamed instead, so the unqualified column in the condition can only be the batch's.
    return (
        f"select {column.name} from {{batch}} where {column.name} is not null and not exists "
        f"(select from (select {parent_column} as parent_key from {SCHEMA_SOURCES}.{parent_table}) parent "
        f"where parent.parent_key = {column.name})"
    )


def _orphan_expectation(table: contract.Table, column: contract.Column) -> dict[str, Any]:
    return {
        "type": "unexpected_rows_expectation",
        "kwargs": {"unexpected_rows_query": _orphan_query(table, column)},
        "meta": {"column": column.name, "check": f"foreign key {column.name} → {column.references}"},
    }


def batch_expectations(table: contract.Table) -> list[dict[str, Any]]:
    """Expectation configurations (GX `type` + `kwargs`) for one batch of `table`."""
    columns = [*table.column_names, *(name for name, _ in contract.AUDIT_COLUMNS)]
    out: list[dict[str, Any]] = [
        {"type": "expect_table_columns_to_match_ordered_list", "kwargs": {"column_list": columns}},
        {"type": "expect_table_row_count_to_equal", "kwargs": {"value": {"$PARAMETER": EXPECTED_ROWS}}},
    ]
    for col in table.columns:
        out.append({"type": "expect_column_values_to_be_of_type",
                    "kwargs": {"column": col.name, "type_": GX_TYPES[col.pg_type]}})
    out.append({"type": "expect_column_values_to_be_unique", "kwargs": {"column": table.primary_key}})
    for col in table.columns:
        if col.required:
            out.append({"type": "expect_column_values_to_not_be_null", "kwargs": {"column": col.name}})
        if col.allowed:
            out.append({"type": "expect_column_values_to_be_in_set",
                        "kwargs": {"column": col.name, "value_set": list(col.allowed)}})
        if col.pattern:
            out.append({"type": "expect_column_values_to_match_regex",
                        "kwargs": {"column": col.name, "regex": col.pattern}})
        if col.min_value is not None or col.max_value is not None:
            out.append({"type": "expect_column_values_to_be_between",
                        "kwargs": {"column": col.name, "min_value": col.min_value, "max_value": col.max_value}})
    for later, earlier in table.not_before:
        out.append({
            "type": "expect_column_pair_values_a_to_be_greater_than_b",
            "kwargs": {"column_A": later, "column_B": earlier, "or_equal": True,
                       "ignore_row_if": "either_value_is_missing"},
        })
    out.extend(_orphan_expectation(table, col) for col in table.foreign_keys)
    if table.freshness_column:
        out.append({
            "type": "expect_column_values_to_be_between",
            "kwargs": {"column": table.freshness_column, "min_value": {"$PARAMETER": FRESH_FROM},
                       "max_value": {"$PARAMETER": FRESH_UNTIL}},
            "meta": {"check": "freshness: every row of a day's batch changed on that day"},
        })
    return _check_pii_columns(table, out)


def table_expectations(table: contract.Table) -> list[dict[str, Any]]:
    """Whole-table key checks, run with every batch: later batches must not break earlier rows' keys."""
    out: list[dict[str, Any]] = [
        {"type": "expect_column_values_to_be_unique", "kwargs": {"column": table.primary_key}},
        {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": table.primary_key}},
    ]
    out.extend(_orphan_expectation(table, col) for col in table.foreign_keys)
    return _check_pii_columns(table, out)
