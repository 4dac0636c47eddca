"""Incremental marts equal a full refresh, row for row, after nights that change old rows.

In its own database: the history is built once, then each simulated day is landed and built incrementally. The
days carry what an incremental build can get wrong — tickets created before the day and updated on it, customers
re-sent with a change (their old tickets take the change), reference tables re-sent whole, a day re-delivered — and
each night's build must merge exactly the tickets whose rows that night's loads wrote (by the load log's committed
sequence). At the end every mart is fingerprinted, rebuilt with `--full-refresh`, and fingerprinted again: identical.
"""

from __future__ import annotations

import hashlib
from datetime import date, timedelta
from pathlib import Path

import pytest

from include.config import Settings
from include.ingest.batch import load_batch
from include.simulator import generate
from include.warehouse.connect import connect
from tests.integration.test_dbt_build import dbt, drop_database, fresh_database

pytestmark = pytest.mark.integration

DATABASE = "sa_dbt_incremental"
DAYS = [(date(2025, 11, 1) + timedelta(days=i)).isoformat() for i in range(5)]
MARTS = {name: "true" for name in ("mart_ticket_analytics", "mart_top_root_causes", "mart_root_causes_by_period",
                                   "mart_tickets_by_day", "mart_churned_customers", "mart_churn_summary")}
# The snapshots keep every as-of date's lists (the export's history; a full refresh keeps only the latest): the
# latest date's lists must match.
MARTS["churn_list_snapshots"] = "as_of_date = (select max(as_of_date) from marts.churn_list_snapshots)"


def _fingerprints(settings: Settings) -> dict[str, tuple[int, str]]:
    out = {}
    with connect("admin", settings) as conn:
        for mart, rows_of in MARTS.items():
            rows = [r[0] for r in conn.execute(f"select t::text from marts.{mart} t where {rows_of} order by 1")]
            out[mart] = (len(rows), hashlib.sha256("\n".join(rows).encode()).hexdigest())
    return out


# The tickets a night must merge: the ticket or one of its dimension rows was written by that day's load.
CHANGED_TICKETS = """
select count(*) from analytics.support_tickets t
left join analytics.customers c using (customer_id)
left join analytics.products p using (product_id)
left join analytics.ticket_categories g using (category_id)
left join analytics.root_causes r using (root_cause_id)
where %s in (t._batch_id, c._batch_id, p._batch_id, g._batch_id, r._batch_id)
"""


def reference_resent(settings: Settings, day: str) -> bool:
    """A reference table (products, categories, root causes) is re-sent whole on a day one of its rows changed:
    every ticket pointing at it is then re-merged, legitimately."""
    return bool(_scalar(settings, "select count(*) from (select _batch_id from analytics.products union all"
                        " select _batch_id from analytics.ticket_categories union all"
                        " select _batch_id from analytics.root_causes) r where _batch_id = %s", day))


def _scalar(settings: Settings, query: str, *params: object) -> int:
    with connect("admin", settings) as conn:
        return int(conn.execute(query, params).fetchone()[0])


def test_nightly_incremental_builds_equal_a_full_refresh(warehouse: Settings, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    landing = tmp_path / "landing"
    generate(landing, scale=0.2, start=date.fromisoformat(DAYS[0]), end=date.fromisoformat(DAYS[-1]))
    settings = fresh_database(DATABASE, landing, monkeypatch)
    artifacts = tmp_path / "dbt"
    try:
        load_batch("history", settings)
        first = dbt(["run"], settings, artifacts)
        assert first.success, first.summary()

        old_tickets_updated = customers_changed = 0
        for day in [*DAYS, DAYS[2]]:  # the last night re-delivers an earlier day
            load_batch(day, settings)
            old_tickets_updated += _scalar(
                settings, "select count(*) from analytics.support_tickets where _batch_id = %s"
                " and created_at < %s::date", day, day)
            customers_changed += _scalar(
                settings, "select count(*) from analytics.customers c where c._batch_id = %s and exists"
                " (select from analytics.support_tickets t where t.customer_id = c.customer_id"
                " and t._batch_id <> %s)", day, day)
            night = dbt(["run"], settings, artifacts)
            assert night.success, night.summary()
            message = next(n.message for n in night.nodes if n.name == "mart_ticket_analytics")
            assert message and message.startswith("MERGE "), message
            merged = int(message.split()[1])
            tickets = _scalar(settings, "select count(*) from marts.mart_ticket_analytics")
            changed = _scalar(settings, CHANGED_TICKETS, day)
            assert 0 < merged == changed, (day, merged, changed, tickets)
            assert merged < tickets / 4 or reference_resent(settings, day), (day, merged, tickets)
        assert old_tickets_updated > 0 and customers_changed > 0, "the days must change old rows"
        assert tickets == _scalar(settings, "select count(*) from analytics.support_tickets")

        incremental = _fingerprints(settings)
        full = dbt(["run", "--full-refresh"], settings, artifacts)
        assert full.success, full.summary()
        assert _fingerprints(settings) == incremental
    finally:
        drop_database(settings)
