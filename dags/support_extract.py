"""
### support_extract — land one day of the source systems in `analytics`

**Schedule:** nightly at 02:00 UTC for the previous day (the run for logical date *D* covers day *D* and starts
after it is over). Backfills: `sa airflow-cli -- backfill create --dag-id support_extract --from-date A --to-date B`.

**What it does, per logical date**
1. `wait_for_delivery` waits (reschedule mode, no worker held) for `<landing>/<D>/_manifest.json`, the file the
   source system writes last. Fails after `SA_MANIFEST_WAIT_TIMEOUT_S` (6 h) naming the folder it waited for.
2. `verify_delivery` checks every file's sha256 against the manifest and every header against the contract
   (`include/contract.py`) — before anything is written.
3. `load_<table>` COPYs each file into a staging table, types and checks it, quarantines rows that cannot land
   (`audit.quarantine`: file, line, raw row, reason) and upserts the rest — one transaction per table, reference
   tables first. Every attempt is logged in `audit.load_batches`.
4. `validate_batch` runs the Great Expectations gate (`great_expectations/`, two suites per table: the batch and
   the whole table) and, only if every expectation passes, emits the Asset `support_analytics.validated_batch`
   that schedules `support_transform`. Results: `audit.validation_results` and GX data docs.

**Rerun a day:** clear the run (or trigger with conf `{"date": "YYYY-MM-DD"}`): loads are idempotent upserts, a
rerun leaves the same contents. **Bootstrap** the history: trigger with conf `{"batch": "history"}` or run
`sa load history`.

**On failure** the alert names the file and line/column or the failed expectation; see the run-book
(docs/operations.md, "Refused landing input"). Refused input (`LoadError`: a bad manifest, an unreadable file, a
header without a contract column, too many quarantined rows) fails its task at once, without retries: a retry would
read the same bytes. A dropped database connection is retried.

**Alerts** (README "Alerts"; off until `SA_ALERT_EMAILS` / `SA_ALERT_WEBHOOK_URL` are set): a task that fails for
good — after its retries — sends one e-mail and one chat message with the task, run, date, exception, failed
expectations (table.column) and a link to its log. The first successful run after a failed one sends an all-clear.
A run not finished `SA_LATE_AFTER_MINUTES` (if set, e.g. 180) after it was queued sends a *late* alert: usually
`wait_for_delivery` is still waiting for the source delivery. `summarize_run` writes the run's row of
`audit.run_summary` (rows landed/quarantined, expectations passed/failed, durations) whatever the outcome.
"""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.sdk import Asset, PokeReturnValue, dag, task

from include import contract
from include.config import get_settings
from include.dag_defaults import (
    dag_alerting,
    default_args,
    extract_params,
    nightly_timetable,
    summary_task_args,
    with_ui_links,
)
from include.pipeline import (
    BATCH_ID_EXTRA,
    EXTRACT_DAG,
    RESOLVE_BATCH_TASK,
    VALIDATE_BATCH_TASK,
    VALIDATED_BATCH_ASSET,
    load_task_id,
    source_table_uris,
)
from include.run_dates import extract_batch_id

SOURCE_ASSETS = {name: Asset(uri=uri, name=f"analytics.{name}") for name, uri in source_table_uris().items()}
VALIDATED_BATCH = Asset(VALIDATED_BATCH_ASSET)


@dag(
    dag_id=EXTRACT_DAG,
    schedule=nightly_timetable(),
    start_date=pendulum.datetime(2025, 11, 1, tz="UTC"),
    catchup=False,
    # A night waiting hours for a late delivery must not block re-running another day; days are still validated
    # (and transformed) in date order: validate_batch depends on the previous day's.
    max_active_runs=3,
    default_args=default_args(),
    tags=["support-analytics", "extract"],
    params=extract_params(),
    doc_md=with_ui_links(__doc__),
    **dag_alerting(),
)
def support_extract() -> None:
    @task(task_id=RESOLVE_BATCH_TASK)
    def resolve_batch(**context: Any) -> str:
        """The landing folder this run loads: `history`, or the logical date (see the DAG doc)."""
        from include.ingest.errors import BadBatchId, fail_at_once
        from include.ingest.manifest import batch_folder

        with fail_at_once():
            try:
                batch_id = extract_batch_id(context)
            except ValueError as exc:
                raise BadBatchId(str(exc)) from None
            batch_folder(get_settings().landing_root, batch_id)
        return batch_id

    @task.sensor(poke_interval=get_settings().delivery_poke_s, timeout=7 * 3600, mode="reschedule", retries=0)
    def wait_for_delivery(batch_id: str, **context: Any) -> PokeReturnValue:
        """Waits for the folder's `_manifest.json`, which the source system writes last."""
        from include.ingest.errors import fail_at_once
        from include.ingest.sensor import delivery_complete

        started = context["dag_run"].start_date
        with fail_at_once():
            return PokeReturnValue(is_done=delivery_complete(batch_id, started, pendulum.now("UTC")))

    @task(retries=0)
    def verify_delivery(batch_id: str) -> None:
        """sha256 and headers of every file, before any table is touched. Bad input does not heal: no retries."""
        from include.ingest.batch import verify_batch
        from include.ingest.errors import fail_at_once

        with fail_at_once():
            verify_batch(batch_id)

    batch_id = resolve_batch()
    verified = wait_for_delivery(batch_id) >> verify_delivery(batch_id)

    loads = {}
    for table in contract.TABLES:

        @task(task_id=load_task_id(table.name), outlets=[SOURCE_ASSETS[table.name]])
        def load(batch_id: str, table_name: str = table.name) -> dict[str, object]:
            from include.ingest.batch import load_table
            from include.ingest.errors import fail_at_once

            with fail_at_once():  # refused input fails at once; a dropped connection is retried
                result = load_table(batch_id, table_name)
            print(f"{result.table}: {result.rows_in} rows in, {result.rows_loaded} loaded, "
                  f"{result.rows_quarantined} quarantined in {result.seconds:.2f}s"
                  + (f"; {result.note}" if result.note else ""))
            return {"rows_in": result.rows_in, "rows_loaded": result.rows_loaded,
                    "rows_quarantined": result.rows_quarantined}

        loads[table.name] = load(batch_id)
        verified >> loads[table.name]
    for table in contract.TABLES:
        for fk in table.foreign_keys:
            parent = fk.references.split(".")[0]  # type: ignore[union-attr]
            loads[parent] >> loads[table.name]

    # depends_on_past: a day's gate waits for the previous day's to have passed, so days are validated — and
    # transformed — in date order (a backfill beside the nightly run too), and a failed day holds the later ones
    # until it is re-landed, or accepted by marking its validate_batch success (Airflow's audit log records it).
    @task(task_id=VALIDATE_BATCH_TASK, retries=0, outlets=[VALIDATED_BATCH], depends_on_past=True)
    def validate_batch(batch_id: str, **context: Any) -> dict[str, object]:
        """Great Expectations gate over every landed table; a failure lists each failed expectation and blocks
        the transform (the Asset below is only emitted on success). Bad data does not heal: no retries."""
        from include.quality.validate import validate_batch as run_gate

        reports = run_gate(batch_id)
        events = context["outlet_events"][VALIDATED_BATCH]
        events.extra = {BATCH_ID_EXTRA: batch_id}
        events.add_partitions(batch_id)  # one support_transform run per validated batch, even in a backfill
        return {"expectations": {r.table: len(r.outcomes) for r in reports},
                "gate_seconds": round(sum(r.seconds for r in reports), 3)}

    gate = validate_batch(batch_id)
    for load in loads.values():
        load >> gate

    @task(**summary_task_args())
    def summarize_run(**context: Any) -> dict[str, Any]:
        """Writes this run's row of `audit.run_summary`. A teardown: runs after a failure too, never fails the run."""
        from include.run_summary import summarize_extract

        return summarize_extract(context)

    gate >> summarize_run().as_teardown()


support_extract()
