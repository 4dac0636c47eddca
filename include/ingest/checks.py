"""SQL that types, checks and upserts a staged file, built from the source contract.

Row-level checks here decide which rows may land: an empty primary key, an empty required column, a value that does
not cast to the contract's type, a text longer than the contract allows, a primary key repeated within the file —
and the contract's row rules (`rule` reasons): a value outside `allowed`, below `min_value` or above `max_value`, a
numeric NaN or ±Infinity, not matching `pattern`, a timestamp later than the load time plus
SA_FUTURE_TOLERANCE_HOURS (`batch.latest_accepted_timestamp`), a `not_before` pair out of order. A row that breaks
one is quarantined and never lands. What needs other rows or other tables (orphans,
freshness of a day's batch, row counts) stays the Great Expectations gate's job; the gate also checks the rules again.
A reason names the column and the check; for a PII column (`Table.pii`) never the value.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from psycopg import sql

from include import contract
from include.config import SCHEMA_AUDIT, SCHEMA_SOURCES
from include.ingest.stage import LINE_NO, RAW_TABLE, Layout

CHECKED_TABLE = "_checked_batch"
REASON = "_reason"

# Kinds of quarantine reasons and the threshold family they count against.
KEY_KINDS = ("key", "required", "duplicate")
PARSE_KINDS = ("type", "length", "malformed")
RULE_KINDS = ("rule",)


def _id(*names: str) -> sql.Identifier:
    return sql.Identifier(*names)


def _number(value: float) -> str:
    return f"{value:g}"


def rules(table: contract.Table, not_after: datetime, value: Callable[[contract.Column], sql.Composable],
          text: Callable[[contract.Column], sql.Composable]) -> list[tuple[sql.Composable, sql.Composable]]:
    """The contract's row rules for `table` as (condition, reason) pairs: `value(col)` is the column's typed value,
    `text(col)` its text as delivered (shown in the reason, except for a PII column). A condition is only true for a
    non-NULL value that breaks the rule; `not_after` is the latest timestamp accepted (load time + tolerance)."""
    by_name = {c.name: c for c in table.columns}

    def shown(col: contract.Column, quoted: bool) -> sql.Composable:
        if col.name in table.pii:
            return sql.Literal(f"rule: {col.name}")
        if quoted:
            return sql.SQL("{} || {} || {}").format(sql.Literal(f"rule: {col.name} '"), text(col), sql.Literal("'"))
        return sql.SQL("{} || {}").format(sql.Literal(f"rule: {col.name} "), text(col))

    out: list[tuple[sql.Composable, sql.Composable]] = []
    for col in table.columns:
        v = value(col)
        quoted = col.pg_type != "integer" and not col.pg_type.startswith("numeric")
        if col.allowed:
            out.append((sql.SQL("{v} is not null and {v} not in ({set})").format(
                v=v, set=sql.SQL(", ").join(sql.Literal(a) for a in col.allowed)),
                sql.SQL("{} || {}").format(shown(col, quoted), sql.Literal(
                    f" is not one of {', '.join(col.allowed)}"))))
        if col.pg_type.startswith("numeric"):  # PostgreSQL's numeric takes NaN and ±Infinity: no measure is either
            out.append((sql.SQL("{v} is not null and {v} in ('NaN', 'Infinity', '-Infinity')").format(v=v),
                        sql.SQL("{} || {}").format(shown(col, quoted), sql.Literal(" is not a finite number"))))
        if col.min_value is not None or col.max_value is not None:
            bounds = [sql.SQL("{} < {}").format(v, sql.Literal(col.min_value)) if col.min_value is not None else None,
                      sql.SQL("{} > {}").format(v, sql.Literal(col.max_value)) if col.max_value is not None else None]
            if col.min_value is not None and col.max_value is not None:
                check = f" is outside {_number(col.min_value)}..{_number(col.max_value)}"
            elif col.min_value is not None:
                check = f" is below the minimum {_number(col.min_value)}"
            else:
                check = f" is above the maximum {_number(col.max_value)}"  # type: ignore[arg-type]
            out.append((sql.SQL("{v} is not null and ({b})").format(
                v=v, b=sql.SQL(" or ").join(b for b in bounds if b is not None)),
                sql.SQL("{} || {}").format(shown(col, quoted), sql.Literal(check))))
        if col.pattern:
            out.append((sql.SQL("{v} is not null and {v} !~ {p}").format(v=v, p=sql.Literal(col.pattern)),
                        sql.SQL("{} || {}").format(shown(col, quoted), sql.Literal(
                            f" does not match the pattern {col.pattern}"))))
    limit = not_after.isoformat()
    for col in table.timestamps:
        v = value(col)
        out.append((sql.SQL("{v} is not null and {v} > {t}::timestamptz").format(v=v, t=sql.Literal(limit)),
                    sql.SQL("{} || {}").format(shown(col, quoted=True), sql.Literal(
                        f" is later than the load time plus SA_FUTURE_TOLERANCE_HOURS ({limit})"))))
    for later, earlier in table.not_before:
        a, b = by_name[later], by_name[earlier]
        reason: sql.Composable = sql.Literal(f"rule: {later} is before {earlier}")
        if not {later, earlier} & set(table.pii):
            reason = sql.SQL("{} || {} || {} || {} || {}").format(
                sql.Literal(f"rule: {later} '"), text(a), sql.Literal(f"' is before {earlier} '"), text(b),
                sql.Literal("'"))
        out.append((sql.SQL("{a} is not null and {b} is not null and {a} < {b}").format(a=value(a), b=value(b)),
                    reason))
    return out


def _staged_value(col: contract.Column) -> sql.Composable:
    """A staged (text) column cast to its type: only used in a CASE branch after its type check passed."""
    column = _id("r", col.name)
    return column if col.pg_type == "text" else sql.SQL("{}::{}").format(column, sql.SQL(col.pg_type))


def _reason_cases(table: contract.Table, not_after: datetime) -> list[sql.Composable]:
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
    for col in table.limited:  # the reason names the column and the length, never the value (PII)
        cases.append(
            sql.SQL("when {c} is not null and char_length({c}) > {n} then {msg} || char_length({c}) || {tail}").format(
                c=_id("r", col.name), n=sql.Literal(col.max_length), msg=sql.Literal(f"length: {col.name} is "),
                tail=sql.Literal(f" characters, the contract allows {col.max_length}"))
        )
    for condition, reason in rules(table, not_after, _staged_value, lambda col: _id("r", col.name)):
        cases.append(sql.SQL("when {} then {}").format(condition, reason))
    cases.append(
        sql.SQL("when r._dup > 1 then {} || r.{} || {} || r._first_line").format(
            sql.Literal(f"duplicate: {table.primary_key} '"), _id(table.primary_key), sql.Literal("' already on line ")
        )
    )
    return cases


def build_checked(table: contract.Table, not_after: datetime) -> sql.Composed:
    """Create the temp table of staged rows with `_reason` (NULL = loadable); `not_after` is the latest timestamp
    the rules accept (the load time plus SA_FUTURE_TOLERANCE_HOURS)."""
    pk = _id(table.primary_key)
    return sql.SQL(
        "create temp table {checked} on commit drop as "
        "select r.*, case {cases} end as {reason} from ("
        "  select s.*, row_number() over (partition by s.{pk} order by s.{line}) as _dup,"
        "         min(s.{line}) over (partition by s.{pk}) as _first_line"
        "  from {raw} s) r"
    ).format(
        checked=_id(CHECKED_TABLE),
        cases=sql.SQL(" ").join(_reason_cases(table, not_after)),
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


TYPED_TABLE = "_typed_batch"


def create_typed_table(table: contract.Table, layout: Layout) -> sql.Composed:
    """Temp table with the contract's types, a text column with a maximum length as varchar(n) (COPY refuses a
    longer value, which sends the load to the row checks): filled by COPY (fast path) or from the checked rows (slow
    path). Plus a text column per header column the contract does not know (COPY needs somewhere to put it)."""
    columns = [sql.SQL("{} {}").format(_id(c.name), sql.SQL(_typed_type(c))) for c in table.columns]
    columns += [sql.SQL("{} text").format(_id(name)) for name, field in zip(layout.staging_columns(), layout.fields,
                                                                            strict=True) if field is None]
    return sql.SQL("create temp table {} ({}) on commit drop").format(_id(TYPED_TABLE), sql.SQL(", ").join(columns))


def _typed_type(col: contract.Column) -> str:
    return f"varchar({col.max_length})" if col.pg_type == "text" and col.max_length else col.pg_type


def _too_long_or_broken(table: contract.Table, not_after: datetime) -> list[sql.Composable]:
    """Conditions on a row of the table's text-typed first load: a value longer than its column allows (the byte
    length is read from the value's header; characters are counted only past it), or a contract rule broken."""
    over: list[sql.Composable] = [
        sql.SQL("(octet_length({c}) > {n} and char_length({c}) > {n})").format(
            c=_id(c.name), n=sql.Literal(c.max_length)) for c in table.limited]
    return over + broken_rules(table, not_after)


FIRST_LOAD_RULES = "sa_first_load_rules"


def first_load_rules(table: contract.Table, relation: sql.Composable,
                     not_after: datetime) -> tuple[sql.Composed, sql.Composed] | None:
    """DDL adding and dropping a CHECK constraint that refuses a row `_too_long_or_broken` flags: added to the
    (empty) target before the first load's COPY, so the rows are checked as COPY writes them (a violation is a
    CheckViolation: the load takes the row checks) instead of in a second scan of what it loaded (2 s of 17M
    logins at scale 100); dropped right after (its load-time limit must not bind later loads)."""
    over = _too_long_or_broken(table, not_after)
    if not over:
        return None
    name = _id(FIRST_LOAD_RULES)
    return (sql.SQL("alter table {} add constraint {} check (not ({}))").format(relation, name,
                                                                             sql.SQL(" or ").join(over)),
            sql.SQL("alter table {} drop constraint {}").format(relation, name))


def _copy_csv(into: sql.Identifier, table: contract.Table, layout: Layout, *, freeze: bool = False) -> sql.Composed:
    """COPY the file's CSV into `into`, each field into its contract column by header name (the header line itself
    is skipped; a BOM before it goes with it); empty fields (quoted or not) become NULL, as the contract says.
    `freeze` writes the rows frozen (only allowed into a table truncated in this transaction)."""
    columns = sql.SQL(", ").join(_id(name) for name in layout.staging_columns())
    known = sql.SQL(", ").join(_id(name) for name in table.column_names)
    options = sql.SQL("format csv, header true{}, force_null ({})").format(
        sql.SQL(", freeze true" if freeze else ""), known)
    return sql.SQL("copy {} ({}) from stdin ({})").format(into, columns, options)


def copy_typed(table: contract.Table, layout: Layout) -> sql.Composed:
    """COPY straight into the typed table (fast path of a load into a table that has rows)."""
    return _copy_csv(_id(TYPED_TABLE), table, layout)


def typed_from_checked(table: contract.Table) -> sql.Composed:
    casts = sql.SQL(", ").join(sql.SQL("c.{}::{}").format(_id(c.name), sql.SQL(c.pg_type)) for c in table.columns)
    return sql.SQL("insert into {} select {} from {} c where c.{} is null").format(
        _id(TYPED_TABLE), casts, _id(CHECKED_TABLE), _id(REASON))


def typed_problems(table: contract.Table, not_after: datetime) -> sql.Composed:
    """Does the typed table have a row with an empty key or required column, a row breaking a contract rule, or a
    repeated primary key? (The repeat check is a hash aggregate: the caller raises work_mem.)"""
    required = [sql.SQL("{} is null").format(_id(c.name)) for c in table.columns if c.required]
    return sql.SQL("select exists (select from {t} where {bad})"
                   " or exists (select from {t} group by {pk} having count(*) > 1)").format(
        t=_id(TYPED_TABLE), bad=sql.SQL(" or ").join([*required, *broken_rules(table, not_after)]),
        pk=_id(table.primary_key))


def broken_rules(table: contract.Table, not_after: datetime) -> list[sql.Composable]:
    """The rules' conditions on a typed relation (the typed table, or the target just filled by a first load)."""
    return [sql.SQL("({})").format(condition) for condition, _ in rules(
        table, not_after, lambda col: _id(col.name), lambda col: _id(col.name))]


def _newer(table: contract.Table, current: str, incoming: str) -> sql.Composable:
    """The incoming version replaces the current one: newer, or same `updated_at` but different content."""
    cols = table.column_names
    differs = sql.SQL("({}) is distinct from ({})").format(
        sql.SQL(", ").join(_id(current, c) for c in cols), sql.SQL(", ").join(_id(incoming, c) for c in cols))
    if table.freshness_column != "updated_at":
        return differs
    return sql.SQL("({i}.updated_at > {c}.updated_at or ({i}.updated_at = {c}.updated_at and {d}))").format(
        i=_id(incoming), c=_id(current), d=differs)


def apply_updates(table: contract.Table) -> sql.Composed:
    """Update existing keys whose incoming version is newer (idempotent: an identical rerun updates nothing, so even
    the audit columns keep their first values; an older batch run after a newer one never reverts a row)."""
    sets = [sql.SQL("{0} = s.{0}").format(_id(c)) for c in table.column_names if c != table.primary_key]
    sets += [sql.SQL("_batch_id = %(batch_id)s"), sql.SQL("_loaded_at = %(now)s")]
    return sql.SQL("update {target} as t set {sets} from {typed} as s where t.{pk} = s.{pk} and {newer}").format(
        target=_id(SCHEMA_SOURCES, table.name), sets=sql.SQL(", ").join(sets), typed=_id(TYPED_TABLE),
        pk=_id(table.primary_key), newer=_newer(table, "t", "s"))


def apply_inserts(table: contract.Table) -> sql.Composed:
    """Insert new keys. ON CONFLICT DO NOTHING lets the primary-key index decide per row: an anti-join here can be
    planned as a nested loop over a seq scan of the very table being filled (stale statistics after a truncate or
    a first load), which turns a large load quadratic."""
    cols = sql.SQL(", ").join(_id(c) for c in table.column_names)
    return sql.SQL(
        "insert into {target} ({cols}, _batch_id, _loaded_at) "
        "select {scols}, %(batch_id)s, %(now)s from {typed} as s "
        "on conflict ({pk}) do nothing"
    ).format(target=_id(SCHEMA_SOURCES, table.name), cols=cols,
             scols=sql.SQL(", ").join(_id("s", c) for c in table.column_names), typed=_id(TYPED_TABLE),
             pk=_id(table.primary_key))


def copy_into_target(table: contract.Table, layout: Layout) -> sql.Composed:
    """COPY straight into `analytics.<table>` (first load, after truncating it; only for a file without unknown
    columns); the audit columns take their defaults."""
    return _copy_csv(_id(SCHEMA_SOURCES, table.name), table, layout, freeze=True)


def reason_counts() -> sql.Composed:
    """Rejected rows per kind (`key`, `required`, `type`, `length`, `rule`, `duplicate`)."""
    return sql.SQL(
        "select split_part({reason}, ':', 1) as kind, count(*) from {checked} where {reason} is not null group by 1"
    ).format(reason=_id(REASON), checked=_id(CHECKED_TABLE))


def first_reasons(limit: int = 5) -> sql.Composed:
    return sql.SQL(
        "select {line}, {reason} from {checked} where {reason} is not null order by {line} limit {limit}"
    ).format(line=_id(LINE_NO), reason=_id(REASON), checked=_id(CHECKED_TABLE), limit=sql.Literal(limit))
