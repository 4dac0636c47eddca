"""Helpers shared by the tests that run real DAGs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

DAGS = Path(__file__).resolve().parents[1] / "dags"


def load_dag(dag_id: str) -> Any:
    """The DAG as the dag-processor builds it from `dags/` (failing on any import error)."""
    from airflow.dag_processing.dagbag import BundleDagBag

    bag = BundleDagBag(str(DAGS), bundle_path=str(DAGS))
    assert bag.import_errors == {}
    return bag.dags[dag_id]


def task_states(run: Any) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in run.get_task_instances()}


ORPHAN_TICKET = "T-ORPHAN"


def insert_orphan_ticket(settings: Any = None) -> None:
    """A ticket of a customer that does not exist, landed by an earlier batch: only the gate's whole-table orphan
    check can catch it (a rerun of the day does not overwrite it). Remove with `delete_orphan_ticket`."""
    from include.warehouse.connect import connect

    with connect("admin", settings) as conn:
        conn.execute(
            "insert into analytics.support_tickets select %s, 'C99999999', product_id, category_id, root_cause_id,"
            " channel, priority, status, subject, app_version, created_at, first_response_at, resolved_at,"
            " resolution_time_hours, satisfaction_score, updated_at, 'history', _loaded_at"
            " from analytics.support_tickets limit 1", (ORPHAN_TICKET,))


def delete_orphan_ticket(settings: Any = None) -> None:
    from include.warehouse.connect import connect

    with connect("admin", settings) as conn:
        conn.execute("delete from analytics.support_tickets where ticket_id = %s", (ORPHAN_TICKET,))


SOURCES = ("customers", "products", "ticket_categories", "root_causes", "customer_products", "support_tickets",
           "customer_logins")


def source_contents(settings: Any) -> dict[str, tuple[int, str]]:
    """Row count and a hash of every row of each source table, without the audit columns a rerun may legitimately
    rewrite: equal contents = the same rows landed."""
    import hashlib

    from include.warehouse.connect import connect

    out = {}
    with connect("admin", settings) as conn:
        for table in SOURCES:
            columns = [r[0] for r in conn.execute(
                "select column_name from information_schema.columns where table_schema = 'analytics'"
                " and table_name = %s and column_name not like '\\_%%' order by ordinal_position", (table,))]
            rows = conn.execute(f"select ({', '.join(columns)})::text from analytics.{table} order by 1").fetchall()
            out[table] = (len(rows), hashlib.sha256("\n".join(r[0] for r in rows).encode()).hexdigest())
    return out


def downstream_runs(api: Any, partition: str, timeout_s: float = 600) -> dict[str, dict[str, Any]]:
    """Wait for the finished transform and export runs of a validated batch (their partition key); return the last
    run of each, by DAG id."""
    import time

    from include.airflow_api import TERMINAL, WAIT_POLL_S
    from include.pipeline import EXPORT_DAG, TRANSFORM_DAG

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = {dag_id: [r for r in api.runs(dag_id) if r.get("partition_key") == partition]
                 for dag_id in (TRANSFORM_DAG, EXPORT_DAG)}
        if all(runs and runs[-1]["state"] in TERMINAL for runs in found.values()):
            return {dag_id: runs[-1] for dag_id, runs in found.items()}
        time.sleep(WAIT_POLL_S)
    raise TimeoutError(f"no finished transform and export for {partition}")
