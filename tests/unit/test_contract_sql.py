"""The source contract turned into SQL (no database): table DDL, the loader's row checks and its upsert rule."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from include import contract
from include.ingest import checks
from include.warehouse import bootstrap

NOT_AFTER = datetime(2025, 11, 2, 12, tzinfo=UTC)


def _sql(composed: object) -> str:
    return composed.as_string(None)  # type: ignore[attr-defined]


@pytest.mark.parametrize("table", contract.TABLES, ids=lambda t: t.name)
def test_ddl_has_the_contract_columns_in_order_required_ones_not_null_and_the_key(table: contract.Table) -> None:
    ddl = _sql(bootstrap.source_table_ddl(table))
    declared = re.findall(r'"(\w+)" (text|date|timestamptz|numeric\(12,2\)|numeric|integer)( not null)?', ddl)
    contract_columns = [(c.name, c.pg_type, " not null" if c.required else "") for c in table.columns]
    assert declared[:len(table.columns)] == contract_columns
    for name, pg_type in contract.AUDIT_COLUMNS:  # filled from the loader's transaction settings
        setting = contract.AUDIT_SETTINGS[name]
        assert f'"{name}" {pg_type} not null default current_setting(\'{setting}\')::{pg_type}' in ddl
    assert f'constraint "{table.name}_pkey" primary key ("{table.primary_key}")' in ddl


@pytest.mark.parametrize("table", contract.TABLES, ids=lambda t: t.name)
def test_row_checks_quarantine_empty_keys_required_columns_bad_types_and_repeats(table: contract.Table) -> None:
    checked = _sql(checks.build_checked(table, NOT_AFTER))
    assert f"key: {table.primary_key} is empty" in checked
    for column in table.columns:
        if column.required and column.name != table.primary_key:
            assert f"required: {column.name} is empty" in checked
        if column.pg_type != "text":
            assert f"type: {column.name} '" in checked and f"'{column.pg_type}'" in checked
    assert f"duplicate: {table.primary_key} '" in checked
    problems = _sql(checks.typed_problems(table, NOT_AFTER))
    assert all(f'"{c.name}" is null' in problems for c in table.columns if c.required)
    assert f'group by "{table.primary_key}" having count(*) > 1' in problems


@pytest.mark.parametrize("table", contract.TABLES, ids=lambda t: t.name)
def test_every_row_rule_of_the_contract_is_checked_at_load_time(table: contract.Table) -> None:
    """Allowed values, ranges, finite numbers, patterns, no future timestamps, timestamp order: each a `rule:` reason
    naming the column, and each also in the fast path's check of the typed batch and of a first load."""
    checked = _sql(checks.build_checked(table, NOT_AFTER))
    problems = _sql(checks.typed_problems(table, NOT_AFTER))
    rules = checks.first_load_rules(table, checks._id("analytics", table.name), NOT_AFTER)
    assert rules is not None
    first_load = _sql(rules[0])
    expected = 0
    for column in table.columns:
        if column.allowed:
            expected += 1
            assert f"is not one of {', '.join(column.allowed)}" in checked
            assert f'"{column.name}" not in (' + ", ".join(f"'{a}'" for a in column.allowed) in problems
        if column.pg_type.startswith("numeric"):
            expected += 1
            assert f"\"{column.name}\" in ('NaN', 'Infinity', '-Infinity')" in problems
            assert f"'rule: {column.name} ' || \"r\".\"{column.name}\" || ' is not a finite number'" in checked
        if column.min_value is not None or column.max_value is not None:
            expected += 1
            assert f'"{column.name}" < {column.min_value}' in problems or f'"{column.name}" > ' in problems
        if column.pattern:
            expected += 1
            assert f"' does not match the pattern {column.pattern}'" in checked
        if column.pg_type == "timestamptz":
            expected += 1
            assert f'"{column.name}" > \'{NOT_AFTER.isoformat()}\'::timestamptz' in problems
    for later, earlier in table.not_before:
        expected += 1
        assert f'"{later}" < "{earlier}"' in problems
    assert checked.count("then 'rule: ") == expected
    assert problems.count(") or (") + 1 >= expected and first_load.count(" or ") >= expected - 1
    for column in table.pii:  # a PII column's value is never part of a reason
        assert f'\'rule: {column} \'\'\' || "r"."{column}"' not in checked
        assert f"'rule: {column} ' || \"r\".\"{column}\"" not in checked


def test_an_update_replaces_a_row_only_with_a_newer_or_different_version() -> None:
    tickets = _sql(checks.apply_updates(contract.table("support_tickets")))
    rule = tickets.split(" where ", 1)[1]
    assert rule.startswith('t."ticket_id" = s."ticket_id" and ("s".updated_at > "t".updated_at or '
                           '("s".updated_at = "t".updated_at and (')
    assert "is distinct from" in rule
    logins = _sql(checks.apply_updates(contract.table("customer_logins")))  # no updated_at: content decides
    assert "updated_at" not in logins.split(" where ", 1)[1] and "is distinct from" in logins


def test_inserts_let_the_primary_key_decide() -> None:
    for table in contract.TABLES:
        assert _sql(checks.apply_inserts(table)).endswith(f'on conflict ("{table.primary_key}") do nothing')


def test_reference_tables_load_before_the_tables_that_reference_them() -> None:
    order = [t.name for t in contract.TABLES]
    for table in contract.TABLES:
        for column in table.foreign_keys:
            parent = str(column.references).split(".")[0]
            assert order.index(parent) < order.index(table.name), f"{table.name}.{column.name} → {parent}"
