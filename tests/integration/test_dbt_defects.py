"""dbt's tests catch bad data that gets past the extract: the build fails with named test failures, not a crash.

The extract quarantines what cannot land (empty keys, bad types, duplicates, malformed lines, and rows breaking a
contract rule: unknown categories, out-of-range numbers, …); an orphan is well-formed and lands, and dbt's tests
must stop it before the marts are rebuilt. dbt's tests on the rule columns stay as defence in depth, for a row that
reaches `analytics` behind the extract. Two scenarios, each in its own database:
- the simulator's orphan in the last daily folder (nothing later re-sends the row), plus the simulator's unknown
  categories / out-of-range values written into that day's rows as the loader (the extract refuses them);
- bad rows inserted directly into `analytics` as the loader (orphan customer, satisfaction 9, channel 'fax';
  then a ticket resolved before it was created).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pytest

from include.config import Settings, get_settings
from include.ingest.batch import load_batch
from include.simulator import generate
from include.transform.runner import DbtResult, run_dbt
from include.warehouse import bootstrap
from include.warehouse.connect import connect

pytestmark = pytest.mark.integration

LAST_DAY = "2025-11-07"
DAYS = [(date(2025, 11, 1) + timedelta(days=i)).isoformat() for i in range(7)]
SIMULATOR_DEFECTS = {
    # defect spec (NAME:TABLE:FOLDER) → the dbt test that must fail on its one bad row
    f"orphan_fk:support_tickets:{LAST_DAY}": "relationships_stg_tickets_customer_id",
}
BEHIND_THE_EXTRACT = {
    # the simulator's unknown_category / out_of_range values, written into one LAST_DAY row of the table as the
    # loader (the extract refuses them: they break a contract rule) → the dbt test that must fail on it
    ("customer_logins", "login_id", "device", "blackberry"): "accepted_values_stg_customer_logins_device",
    ("customers", "customer_id", "customer_segment", "Gold"): "accepted_values_stg_customers_customer_segment",
    ("customer_products", "holding_id", "monthly_revenue", "-25.00"):
        "accepted_range_stg_customer_products_monthly_revenue",
}
MARTS = ("mart_ticket_analytics", "mart_top_root_causes", "mart_churned_customers")


@dataclass(frozen=True)
class Warehouse:
    settings: Settings
    artifacts: Path

    def dbt(self, args: list[str]) -> DbtResult:
        return run_dbt(args, self.settings, target_path=self.artifacts / "target", log_path=self.artifacts / "logs")


def _fresh_database(name: str, landing: Path, monkeypatch: pytest.MonkeyPatch, artifacts: Path) -> Warehouse:
    monkeypatch.setenv("WAREHOUSE_DB", name)
    monkeypatch.setenv("SA_LANDING_ROOT", str(landing))
    settings = get_settings()
    _drop_database(settings)
    bootstrap.bootstrap(settings)
    return Warehouse(settings, artifacts)


def _drop_database(settings: Settings) -> None:
    with connect("admin", settings, autocommit=True, database="postgres") as conn:
        conn.execute(f'drop database if exists "{settings.warehouse_db}" with (force)')


def _failed(result: DbtResult) -> dict[str, tuple[str, int | None]]:
    return {n.name: (n.status, n.failures) for n in result.failed_nodes}


def _one_failure_per_prefix(result: DbtResult, prefixes: list[str]) -> None:
    """The build failed because of exactly these tests, each a test failure ('fail') of one bad row."""
    failed = _failed(result)
    assert not result.success and result.exception is None, result.summary()
    for prefix in prefixes:
        matches = [name for name in failed if name.startswith(prefix)]
        assert len(matches) == 1, (prefix, failed)
        assert failed[matches[0]] == ("fail", 1), (prefix, failed)
    assert len(failed) == len(prefixes), failed


def _skipped_models(result: DbtResult) -> set[str]:
    return {n.name for n in result.nodes if n.resource_type == "model" and n.status == "skipped"}


@pytest.fixture(scope="module")
def simulator_defects(warehouse: Settings, tmp_path_factory: pytest.TempPathFactory,
                      monkeypatch_module: pytest.MonkeyPatch) -> Iterator[Warehouse]:
    landing = tmp_path_factory.mktemp("dbt-defects-landing")
    report = generate(landing, scale=1.0, start=date(2025, 11, 1), end=date(2025, 11, 7),
                      defects=list(SIMULATOR_DEFECTS))
    assert len(report.defects) == len(SIMULATOR_DEFECTS)
    wh = _fresh_database("sa_dbt_defects", landing, monkeypatch_module, tmp_path_factory.mktemp("dbt-defects"))
    for batch in ["history", *DAYS]:
        loads = load_batch(batch, wh.settings)
        assert all(load.rows_quarantined == 0 for load in loads)  # an orphan is well-formed: it lands
    with connect("loader", wh.settings) as conn:
        for table, key, column, value in BEHIND_THE_EXTRACT:
            changed = conn.execute(
                f"update analytics.{table} set {column} = %s where {key} ="
                f" (select min({key}) from analytics.{table} where _batch_id = %s)", (value, LAST_DAY)).rowcount
            assert changed == 1, table
    yield wh
    _drop_database(wh.settings)


@pytest.fixture(scope="module")
def clean_history(warehouse: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    landing = tmp_path_factory.mktemp("dbt-insert-landing")
    generate(landing, scale=1.0, start=date(2025, 11, 1), end=date(2025, 11, 1))
    yield landing


def test_simulator_defects_that_reach_analytics_fail_named_dbt_tests(simulator_defects: Warehouse) -> None:
    result = simulator_defects.dbt(["build"])
    _one_failure_per_prefix(result, [*SIMULATOR_DEFECTS.values(), *BEHIND_THE_EXTRACT.values()])
    # nothing downstream of a failed staging test is rebuilt: the marts keep their last good state
    assert set(MARTS) <= _skipped_models(result)


TICKET_COLUMNS = (
    "ticket_id, customer_id, product_id, category_id, root_cause_id, channel, priority, status, subject, "
    "app_version, created_at, first_response_at, resolved_at, resolution_time_hours, satisfaction_score, "
    "updated_at, _batch_id, _loaded_at"
)


def _insert_ticket(settings: Settings, ticket_id: str, **overrides: object) -> None:
    """Copy a real ticket under a new id with some fields overridden, as the loader (who owns analytics)."""
    columns = [c.strip() for c in TICKET_COLUMNS.split(",")]
    values = []
    params: list[object] = []
    for column in columns:
        if column == "ticket_id":
            values.append("%s")
            params.append(ticket_id)
        elif column in overrides:
            values.append("%s")
            params.append(overrides[column])
        elif column == "_batch_id":
            values.append("'test-insert'")
        else:
            values.append(column)
    with connect("loader", settings) as conn:
        conn.execute(
            f"insert into analytics.support_tickets ({TICKET_COLUMNS}) "
            f"select {', '.join(values)} from analytics.support_tickets "
            "where status = 'closed' order by ticket_id limit 1",
            params,
        )


def test_rows_inserted_behind_the_extract_fail_named_dbt_tests(
    clean_history: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    wh = _fresh_database("sa_dbt_inserted", clean_history, monkeypatch, tmp_path)
    try:
        load_batch("history", wh.settings)
        _insert_ticket(wh.settings, "TX0000001", customer_id="C99999999")
        _insert_ticket(wh.settings, "TX0000002", satisfaction_score=9)
        _insert_ticket(wh.settings, "TX0000003", channel="Fax ")
        result = wh.dbt(["build"])
        _one_failure_per_prefix(result, [
            "relationships_stg_tickets_customer_id",
            "accepted_range_stg_tickets_satisfaction_score",
            "accepted_values_stg_tickets_channel",
        ])
        assert {"mart_ticket_analytics", "mart_top_root_causes", "mart_churned_customers"} <= _skipped_models(result)

        # A ticket resolved before it was created passes staging but not the mart's singular test.
        with connect("loader", wh.settings) as conn:
            conn.execute("delete from analytics.support_tickets where _batch_id = 'test-insert'")
        _insert_ticket(wh.settings, "TX0000004", resolved_at="2024-12-31T00:00:00+00:00",
                       created_at="2025-01-02T00:00:00+00:00", resolution_time_hours=None)
        result = wh.dbt(["build"])
        _one_failure_per_prefix(result, ["assert_actual_resolution_hours_not_negative"])
        # only what is built on mart_ticket_analytics is skipped; the churn marts do not read it
        assert _skipped_models(result) == {
            "int_ticket_groups_by_month", "mart_top_root_causes", "mart_root_causes_by_period", "mart_tickets_by_day",
            "serving_mart_ticket_analytics", "serving_mart_top_root_causes",
            "serving_mart_root_causes_by_period", "serving_mart_tickets_by_day", "serving_marts_build",
        }
    finally:
        _drop_database(wh.settings)
