"""A warehouse as the reader and the MCP server see it, built once per test session (fixture `served`).

Database `sa_served` on the embedded test server, the session's scale-1 landing zone (history + 2025-11-01..03)
loaded by the extract, one full `dbt build` as of 2025-11-03, and the audit rows `serving.pipeline_status` reads:
a night per date with every DAG's state and counts, one of them failed at the gate (with a failed expectation on a
PII column, whose value must never show). The settings point at that database without touching the environment,
so other test modules keep their own.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from include.config import Settings
from include.ingest.batch import load_batch
from include.transform.runner import run_dbt
from include.warehouse import bootstrap
from include.warehouse.connect import connect

DATABASE = "sa_served"
DAYS = ("2025-11-01", "2025-11-02", "2025-11-03")
AS_OF = "2025-11-03"
FAILED_DAY = "2025-11-02"  # its last extract run failed at the gate


def drop_database(settings: Settings) -> None:
    with connect("admin", settings, autocommit=True, database="postgres") as conn:
        conn.execute(f'drop database if exists "{settings.warehouse_db}" with (force)')


def build_served(base: Settings, artifacts: Path) -> Settings:
    settings = replace(base, warehouse_db=DATABASE)
    drop_database(settings)
    bootstrap.bootstrap(settings)
    for batch in ("history", *DAYS):
        load_batch(batch, settings)
    build = run_dbt(["build", "--vars", f"{{as_of_date: '{AS_OF}'}}"], settings, target_path=artifacts / "target",
                    log_path=artifacts / "logs")
    assert build.success, build.summary()
    _audit_rows(settings)
    return settings


def _audit_rows(settings: Settings) -> None:
    """What the DAGs' `summarize_run` and the gate would have written for the three nights."""
    summary = ("insert into audit.run_summary (dag_id, run_id, run_date, state, failed_tasks, rows_landed,"
               " rows_quarantined, validations_passed, validations_failed, models_built, tests_passed, tests_failed,"
               " exported_rows, started_at, finished_at) values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s,"
               " %s::date + interval '2 hours', %s::date + interval '2 hours 10 minutes' + %s * interval '1 minute')")
    rows = []
    for n, day in enumerate(DAYS):
        rows += [("support_extract", f"scheduled__{day}", day, "success", None, 1000 + n, n, 220, 0, None, None, None,
                  None, day, day, 0),
                 ("support_transform", f"asset__{day}", day, "success", None, None, None, None, None, 17, 80, 0,
                  None, day, day, 1),
                 ("support_churn_export", f"asset__{day}", day, "success", None, None, None, None, None, None, None,
                  None, 5000 + n, day, day, 2)]
    rows.append(("support_extract", f"manual__{FAILED_DAY}", FAILED_DAY, "failed", "validate_batch", 1001, 1, 219, 1,
                 None, None, None, None, FAILED_DAY, FAILED_DAY, 5))
    result = ("insert into audit.validation_results (run_id, batch_id, table_name, suite_name, expectation_type,"
              " column_name, success, unexpected_count, unexpected_sample, observed_value, exception_message,"
              " validated_at) values (%s, %s, %s, %s, %s, %s, %s, %s, '[]', null, null, %s::timestamptz)")
    with connect("loader", settings) as conn:
        conn.cursor().executemany(summary, rows)
        conn.cursor().executemany(result, [
            # the night's failed gate: an e-mail that is no address (a PII column: no sample is kept)
            ("r1", FAILED_DAY, "customers", "customers.batch", "expect_column_values_to_match_regex", "email", False,
             1, f"{FAILED_DAY} 02:05+00"),
            ("r1", FAILED_DAY, "customers", "customers.batch", "expect_column_values_to_not_be_null", "email", True,
             0, f"{FAILED_DAY} 02:05+00"),
            # an earlier failure of the first day, passed by the later validation: not a failed check any more
            ("r0", DAYS[0], "support_tickets", "support_tickets.batch", "expect_column_values_to_be_in_set",
             "channel", False, 2, f"{DAYS[0]} 01:00+00"),
            ("r3", DAYS[0], "support_tickets", "support_tickets.batch", "expect_column_values_to_be_in_set",
             "channel", True, 0, f"{DAYS[0]} 02:05+00"),
        ])
