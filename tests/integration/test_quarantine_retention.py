"""Quarantined rows keep raw source lines (PII): each load of a table purges its rows older than
SA_QUARANTINE_RETENTION_DAYS, and only that table's."""

from __future__ import annotations

import pytest

from include.config import Settings, get_settings
from include.ingest.batch import load_table
from include.warehouse.connect import connect

pytestmark = pytest.mark.integration


def _quarantine(settings: Settings, rows: list[tuple[str, str, int]]) -> None:
    with connect("admin", settings) as conn:
        for batch, table, days_ago in rows:
            conn.execute(
                "insert into audit.quarantine (batch_id, table_name, source_file, line_number, raw_line, reason,"
                " quarantined_at) values (%s, %s, 'x.csv.gz', 4, '{\"email\": \"jane@example.com\"}', 'key: empty',"
                " now() - make_interval(days => %s))", (batch, table, days_ago))


def _left(settings: Settings) -> set[tuple[str, str]]:
    with connect("admin", settings) as conn:
        return {(r[0], r[1]) for r in conn.execute("select batch_id, table_name from audit.quarantine")}


def test_a_load_purges_its_tables_expired_quarantine(empty_warehouse: Settings, landing: object,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    _quarantine(empty_warehouse, [("2025-09-01", "products", 40), ("2025-10-20", "products", 5),
                                  ("2025-09-01", "customers", 40)])
    monkeypatch.delenv("SA_QUARANTINE_RETENTION_DAYS", raising=False)
    load_table("history", "products", get_settings())  # default: 30 days
    assert _left(empty_warehouse) == {("2025-10-20", "products"), ("2025-09-01", "customers")}

    monkeypatch.setenv("SA_QUARANTINE_RETENTION_DAYS", "3")
    load_table("history", "products", get_settings())
    assert _left(empty_warehouse) == {("2025-09-01", "customers")}  # another table's rows wait for its own load
