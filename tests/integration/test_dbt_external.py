"""The same dbt build on the production path: an external PostgreSQL server (this machine's PG 15).

A fresh database and role prefix per run (as in test_external_warehouse.py), scale-1 simulator data loaded by the
extract, one `dbt build`; dropped at the end. Skipped, saying why, only when no server is reachable.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta

import psycopg
import pytest

from include.config import Settings, masking_key
from include.ingest.batch import load_batch
from include.simulator import generate
from include.transform.runner import DbtResult, run_dbt
from include.warehouse import bootstrap
from include.warehouse.connect import connect
from tests.external_pg import external_warehouse

pytestmark = [pytest.mark.integration, pytest.mark.external]

DAYS = [(date(2025, 11, 1) + timedelta(days=i)).isoformat() for i in range(7)]
MARTS = ("mart_ticket_analytics", "mart_top_root_causes", "mart_churned_customers")


@dataclass(frozen=True)
class External:
    settings: Settings
    build: DbtResult


@pytest.fixture(scope="module")
def external(tmp_path_factory: pytest.TempPathFactory, monkeypatch_module: pytest.MonkeyPatch) -> Iterator[External]:
    landing = tmp_path_factory.mktemp("dbt-external-landing")
    artifacts = tmp_path_factory.mktemp("dbt-external")
    monkeypatch_module.setenv("SA_LANDING_ROOT", str(landing))
    with external_warehouse(monkeypatch_module, "sa_dbt") as settings:
        bootstrap.bootstrap(settings)
        generate(landing, scale=1.0, start=date(2025, 11, 1), end=date(2025, 11, 7))
        for batch in ["history", *DAYS]:
            load_batch(batch, settings)
        build = run_dbt(["build"], settings, target_path=artifacts / "target", log_path=artifacts / "logs")
        yield External(settings, build)


def test_build_passes_on_the_external_server(external: External) -> None:
    assert not external.settings.is_embedded
    with connect("admin", external.settings) as conn:
        assert int(conn.execute("show server_version_num").fetchone()[0]) < 180000
    result = external.build
    assert result.success and result.exception is None, result.summary()
    statuses = {n.status for n in result.nodes if n.resource_type != "exposure"}
    assert statuses == {"success", "pass"}
    assert sum(n.resource_type == "model" for n in result.nodes) == 28  # staging 8, marts 7 + 4, serving 8, pii 1


def test_reader_queries_the_serving_views_on_the_external_server(external: External) -> None:
    with connect("admin", external.settings) as conn:
        tickets = conn.execute("select count(*) from analytics.support_tickets").fetchone()[0]
    with connect("reader", external.settings) as conn:
        counts = {m: conn.execute(f"select count(*) from serving.{m}").fetchone()[0] for m in MARTS}
        top = conn.execute(
            "select root_cause_name, total_tickets from serving.mart_top_root_causes "
            "where created_year = 2025 and created_month = 10 order by total_tickets desc limit 5"
        ).fetchall()
        pct = conn.execute(
            "select distinct sum(pct_of_period) from serving.mart_top_root_causes group by created_year, created_month"
        ).fetchall()
        churned_30, churned_90 = conn.execute(
            "select count(*) filter (where is_churned_30d), count(*) filter (where is_churned_90d) "
            "from serving.mart_churned_customers"
        ).fetchone()
    assert counts["mart_ticket_analytics"] == tickets > 10_000
    assert counts["mart_top_root_causes"] > 100 and counts["mart_churned_customers"] > 9_000
    assert len(top) == 5
    assert pct == [(100,)]
    assert 1_000 <= churned_30 <= 2_000 and 2_500 <= churned_90 <= 4_500


def test_masking_on_postgres_15_is_the_same_keyed_hmac(external: External) -> None:
    """PostgreSQL 15's sha256(bytea) computes the same tokens as Python's hmac, and the reader sees no raw mart."""
    key = masking_key(external.settings)
    with connect("transformer", external.settings) as conn:
        raw = conn.execute("select customer_id, email from marts.mart_churned_customers order by 1").fetchall()
    with connect("reader", external.settings) as conn:
        masked = conn.execute("select customer_id, email from serving.mart_churned_customers order by 1").fetchall()
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("select email from marts.mart_churned_customers limit 1")
    assert masked == [(cid, hmac.new(key, email.encode(), hashlib.sha256).hexdigest() + "@masked.invalid")
                      for cid, email in raw]
