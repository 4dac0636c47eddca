"""Which date a run works on (`include.run_dates`): the one rule behind resolve_batch, dbt's as-of date, the run
summaries and every alert."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest

from include import pipeline
from include.run_dates import LATEST, dbt_as_of_value, run_date


def _context(dag_id: str, conf: dict[str, Any] | None = None, logical: datetime | None = None,
             run_after: datetime | None = None, events: dict[str, list[dict[str, Any]]] | None = None,
             ti: Any = None) -> dict[str, Any]:
    dag_run = SimpleNamespace(dag_id=dag_id, conf=conf or {}, logical_date=logical, run_after=run_after)
    context: dict[str, Any] = {"dag": SimpleNamespace(dag_id=dag_id), "dag_run": dag_run, "logical_date": logical,
                               "triggering_asset_events": {
                                   name: [SimpleNamespace(extra=extra) for extra in extras]
                                   for name, extras in (events or {}).items()}}
    if ti is not None:
        context["ti"] = ti
    return context


NOV_1 = datetime(2025, 11, 1, 2, tzinfo=UTC)


@pytest.mark.parametrize(("conf", "logical", "run_after", "expected"), [
    ({"batch": "history"}, None, None, "history"),
    ({"batch": " 2025-11-04 "}, NOV_1, None, "2025-11-04"),
    ({"date": "2025-11-05"}, NOV_1, None, "2025-11-05"),
    ({}, NOV_1, None, "2025-11-01"),  # scheduled / backfill: the logical date
    ({}, None, datetime(2025, 11, 8, 9, tzinfo=UTC), "2025-11-07"),  # manual, no conf: the last complete day
])
def test_extract_works_on_conf_then_logical_date_then_the_day_before_it_ran(
        conf: dict[str, Any], logical: datetime | None, run_after: datetime | None, expected: str) -> None:
    assert run_date(_context(pipeline.EXTRACT_DAG, conf, logical, run_after)) == expected


@pytest.mark.parametrize("bad", [{"batch": "/etc"}, {"batch": "../2025-11-01"}, {"date": "yesterday"}])
def test_extract_refuses_a_batch_that_is_neither_history_nor_a_date(bad: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="must be a date YYYY-MM-DD"):
        run_date(_context(pipeline.EXTRACT_DAG, bad, NOV_1))


def test_transform_takes_conf_then_the_latest_dated_batch_then_latest() -> None:
    events = {pipeline.VALIDATED_BATCH_ASSET: [{"batch_id": "2025-11-02"}, {"batch_id": "history"},
                                               {"batch_id": "2025-11-03"}, {}]}
    assert run_date(_context(pipeline.TRANSFORM_DAG, {"as_of_date": "2025-10-31"}, events=events)) == "2025-10-31"
    assert run_date(_context(pipeline.TRANSFORM_DAG, events=events)) == "2025-11-03"
    history_only = {pipeline.VALIDATED_BATCH_ASSET: [{"batch_id": "history"}]}
    assert run_date(_context(pipeline.TRANSFORM_DAG, events=history_only)) == LATEST
    assert dbt_as_of_value(_context(pipeline.TRANSFORM_DAG, events=history_only)) == ""
    assert dbt_as_of_value(_context(pipeline.TRANSFORM_DAG, events=events)) == "2025-11-03"


def test_a_deadline_callback_context_without_events_gives_no_transform_date() -> None:
    dag_run = {"dag_id": pipeline.TRANSFORM_DAG, "conf": {}, "logical_date": None}
    assert run_date({"dag_run": dag_run}) is None
    assert run_date({"dag_run": {**dag_run, "conf": {"as_of_date": "2025-11-02"}}}) == "2025-11-02"


def test_export_takes_what_its_export_task_published() -> None:
    class Ti:
        dag_id = pipeline.EXPORT_DAG

        def __init__(self, value: Any) -> None:
            self.value = value

        def xcom_pull(self, task_ids: str) -> Any:
            assert task_ids == pipeline.EXPORT_TASK
            return self.value

    assert run_date(_context(pipeline.EXPORT_DAG, ti=Ti({"as_of_date": "2025-11-03"}))) == "2025-11-03"
    assert run_date(_context(pipeline.EXPORT_DAG, {"as_of_date": "2025-11-02"}, ti=Ti(None))) == "2025-11-02"
    assert run_date(_context(pipeline.EXPORT_DAG, ti=Ti(None))) is None


def test_another_dag_uses_conf_or_its_logical_date() -> None:
    assert run_date(_context("other", {"as_of_date": "2025-11-02"})) == "2025-11-02"
    assert run_date(_context("other", logical=NOV_1)) == "2025-11-01"
    assert run_date(_context("other")) is None
