"""A backfill of five days through Airflow's own backfill, on the real scheduler (LocalExecutor), with alerts on.

What the README promises an engineer running it: every day is extracted, validated, transformed and exported — one
transform and one export per day, none skipped or merged, no false alarm — and the marts at the end are what a fresh
build of the final state gives.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from include.airflow_api import AirflowApi
from include.chain_watch import watch_chain
from include.config import get_settings
from include.pipeline import EXPORT_DAG, EXTRACT_DAG, TRANSFORM_DAG
from include.source_system import deliver_up_to
from include.transform.runner import run_dbt
from include.warehouse.connect import connect
from tests.receivers import Receivers

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

FIRST, LAST = date(2025, 11, 1), date(2025, 11, 5)
DAYS = [(FIRST + timedelta(days=i)).isoformat() for i in range((LAST - FIRST).days + 1)]
COMPARED = ("staging.stg_tickets", "marts.mart_ticket_analytics", "marts.mart_top_root_causes",
            "marts.mart_churned_customers")


@pytest.fixture(scope="module")
def backfilled(request: pytest.FixtureRequest, monkeypatch_module: pytest.MonkeyPatch,
               landing: Any) -> Iterator[tuple[AirflowApi, Receivers, dict[str, list[dict[str, Any]]]]]:
    from datetime import UTC, datetime

    receivers = Receivers()
    receivers.start()
    for name, value in receivers.env().items():
        monkeypatch_module.setenv(name, value)
    monkeypatch_module.setenv("SA_NIGHTLY_SCHEDULE", "0 2 * * *")  # the production schedule: backfills need one
    deliver_up_to(LAST)  # the source system delivered 2025-11-04 and -05 too
    api: AirflowApi = request.getfixturevalue("running_airflow")
    since = datetime.now(UTC)
    backfill = api.create_backfill(EXTRACT_DAG, f"{FIRST}T00:00:00+00:00", f"{LAST}T23:59:59+00:00")
    runs = watch_chain(api, since, backfill, timeout_s=1500)
    yield api, receivers, runs
    receivers.stop()


def test_every_day_is_extracted_transformed_and_exported_once_without_a_false_alarm(backfilled) -> None:  # type: ignore[no-untyped-def]
    _, receivers, runs = backfilled
    states = {dag_id: [(r.get("partition_key") or str(r.get("logical_date"))[:10], r["state"]) for r in dag_runs]
              for dag_id, dag_runs in runs.items()}
    backfill_extracts = [day for day, _ in states[EXTRACT_DAG] if day in DAYS]
    assert sorted(backfill_extracts) == DAYS, states
    for dag_id in (TRANSFORM_DAG, EXPORT_DAG):  # one run per day, keyed by the day, in date order
        assert [day for day, _ in states[dag_id]] == DAYS, states
    assert all(state == "success" for dag_runs in states.values() for _, state in dag_runs), states
    receivers.wait(mails=1, posts=1, timeout_s=3)
    assert receivers.posts == [] and receivers.mails == [], "a clean backfill must not alert"


def test_one_export_folder_per_day_with_that_days_lists(backfilled) -> None:  # type: ignore[no-untyped-def]
    settings = get_settings()
    for day in DAYS:
        manifest = json.loads((Path(settings.export_root) / day / "manifest.json").read_text())
        assert manifest["as_of_date"] == day
        with connect("admin", settings) as conn:
            churned = conn.execute("select count(*) from marts.churn_list_snapshots where as_of_date = %s"
                                   " and list_name = 'churned_customers'", (day,)).fetchone()[0]
        assert manifest["files"]["churned_customers.csv"]["rows"] == churned > 0


def _fingerprint(settings: Any) -> dict[str, tuple[int, str]]:
    """Row count and a hash of every row (in a stable order) of each compared model."""
    out = {}
    with connect("admin", settings) as conn:
        for relation in COMPARED:
            rows = conn.execute(f"select t::text from {relation} t order by 1").fetchall()
            out[relation] = (len(rows), hashlib.sha256("\n".join(r[0] for r in rows).encode()).hexdigest())
    return out


def test_the_marts_equal_a_fresh_build_of_the_final_state(backfilled) -> None:  # type: ignore[no-untyped-def]
    settings = get_settings()
    after_backfill = _fingerprint(settings)
    with connect("reader", settings) as conn:
        assert conn.execute("select distinct as_of_date::text from serving.mart_churned_customers").fetchall() == \
            [(DAYS[-1],)], "the last transform is the last day's"
    fresh = run_dbt(["build", "--full-refresh", "--vars", f"{{as_of_date: '{DAYS[-1]}'}}", "--exclude",
                     "churn_list_snapshots"], settings, target_path=settings.local_dir / "dbt-fresh")
    assert fresh.success, fresh.summary()
    assert _fingerprint(settings) == after_backfill
