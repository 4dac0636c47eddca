"""SQL that types, checks and upserts a staged file, built from the source contract.

Row-level checks here are the ones that make a row impossible to land: an empty primary key, an empty required
column, a value that does not cast to the contract's type, a primary key repeated within the file. Everything that
is about *meaning* (allowed values, ranges, orphans, freshness) is the Great Expectations gate's job.
"""

from __future__ import annotations

from psycopg import sql

from include import contract
from include.config import SCHEMA_AUDIT, SCHEMA_SOURCES
from include.ingest.stage import LINE_NO, RAW_TABLE

CHECKED_TABLE = "_checked_batch"
REASON = "_reason"

# Kinds of quarantine reasons and the threshold family they count against.
KEY_KINDS = ("key", "required", "duplicate")
PARSE_KINDS = ("type", "malformed")


def _id(*names: str) -> sql.Identifier:
    return sql.Identifier(*names)


def _reason_cases(table: contract.Table) -> list[sql.Composable]:
    pk = _id("r", table.primary_key)
    cases: list[sql.Composable] = [
        sql.SQL("when {} is null then {}").format(pk, sql.Literal(f"key: {table.primary_key} is empty"))
    ]
    for col in table.columns:
        if col.required and col.name != table.primary_key:
            cases.append(
                sql.SQL("when {} is null then {}").format(
                    _id("r", col.name), sql.Literal(f"required: {col.name} is empty")
                )
            )
    for col in table.columns:
        if col.pg_type != "text":
            cases.append(
                sql.SQL("when {c} is not null and not {fn}({c}, {t}) then {msg} || {c} || {tail}").format(
                    c=_id("r", col.name),
                    fn=_id(SCHEMA_AUDIT, "sa_is_valid"),
                    t=sql.Literal(col.pg_type),
                    msg=sql.Literal(f"type: {col.name} '"),
                    tail=sql.Literal(f"' is not a valid {col.pg_type}"),
                )
            )
    cases.append(
        sql.SQL("when r._dup > 1 then {} || r.{} || {} || r._first_line").format(
            sql.Literal(f"duplicate: {table.primary_key} '"), _id(table.primary_key), sql.Literal("' already on line ")
        )
    )
    return cases


def build_checked(table: contract.Table) -> sql.Composed:
    """Create the temp table of staged rows with `_reason` (NULL = loadable)."""
    pk = _id(table.primary_key)
    return sql.SQL(
        "create temp table {checked} on commit drop as "
        "select r.*, case {cases} end as {reason} from ("
        "  select s.*, row_number() over (partition by s.{pk} order by s.{line}) as _dup,"
        "         min(s.{line}) over (partition by s.{pk}) as _first_line"
        "  from {raw} s) r"
    ).format(
        checked=_id(CHECKED_TABLE),
        cases=sql.SQL(" ").join(_reason_cases(table)),
        reason=_id(REASON),
        pk=pk,
        line=_id(LINE_NO),
        raw=_id(RAW_TABLE),
    )


def insert_quarantine(table: contract.Table) -> sql.Composed:
    """Copy rejected staged rows into audit.quarantine, the raw record kept as JSON of the file's fields."""
    fields = sql.SQL(", ").join(
        sql.SQL("{}, {}").format(sql.Literal(name), _id("c", name)) for name in table.column_names
    )
    return sql.SQL(
        "insert into {q} (batch_id, table_name, source_file, line_number, raw_line, reason, quarantined_at) "
        "select %(batch_id)s, %(table)s, %(source_file)s, c.{line}, json_build_object({fields})::text, c.{reason}, "
        "%(now)s from {checked} c where c.{reason} is not null"
    ).format(
        q=_id(SCHEMA_AUDIT, "quarantine"),
        line=_id(LINE_NO),
        fields=fields,
        reason=_id(REASON),
        checked=_id(CHECKED_TABLE),
    )


def upsert(table: contract.Table) -> sql.Composed:
    """Insert the loadable rows, or update an existing key when the incoming version is newer.

    Idempotency: re-running a batch changes nothing (same `updated_at` and same content → no update, so even the
    audit columns keep their first values); running an older batch after a newer one never reverts a row.
    """
    target = _id(SCHEMA_SOURCES, table.name)
    cols = list(table.column_names)
    audit_cols = [name for name, _ in contract.AUDIT_COLUMNS]
    casts = sql.SQL(", ").join(
        sql.SQL("c.{}::{}").format(_id(c.name), sql.SQL(c.pg_type)) for c in table.columns
    )
    updates = sql.SQL(", ").join(sql.SQL("{0} = excluded.{0}").format(_id(name)) for name in cols + audit_cols
                                 if name != table.primary_key)
    current = sql.SQL(", ").join(_id("t", name) for name in cols)
    incoming = sql.SQL(", ").join(_id("excluded", name) for name in cols)
    differs = sql.SQL("({}) is distinct from ({})").format(current, incoming)
    if table.freshness_column == "updated_at":
        condition = sql.SQL("excluded.updated_at > t.updated_at or (excluded.updated_at = t.updated_at and {})").format(
            differs
        )
    else:
        condition = differs
    return sql.SQL(
        "insert into {target} as t ({cols}) "
        "select {casts}, %(batch_id)s, %(source_file)s, %(now)s from {checked} c where c.{reason} is null "
        "on conflict ({pk}) do update set {updates} where {condition}"
    ).format(
        target=target,
        cols=sql.SQL(", ").join(_id(name) for name in cols + audit_cols),
        casts=casts,
        checked=_id(CHECKED_TABLE),
        reason=_id(REASON),
        pk=_id(table.primary_key),
        updates=updates,
        condition=condition,
    )


def reason_counts() -> sql.Composed:
    """Rejected rows per kind (`key`, `required`, `type`, `duplicate`)."""
    return sql.SQL(
        "select split_part({reason}, ':', 1) as kind, count(*) from {checked} where {reason} is not null group by 1"
    ).format(reason=_id(REASON), checked=_id(CHECKED_TABLE))


def first_reasons(limit: int = 5) -> sql.Composed:
    return sql.SQL(
        "select {line}, {reason} from {checked} where {reason} is not null order by {line} limit {limit}"
    ).format(line=_id(LINE_NO), reason=_id(REASON), checked=_id(CHECKED_TABLE), limit=sql.Literal(limit))
