"""Import the heavy libraries once in the process that forks the task processes, so every task starts warm.

Airflow runs each task in a process of its own: LocalExecutor forks it from a worker that the scheduler forked,
a Celery worker forks it from its pool. Whatever those parents have imported, the task process has for free (pages
shared copy-on-write); whatever they have not, every task imports again — Great Expectations alone takes ~5 s, every
`validate_batch` used to pay it. Called from `airflow_local_settings` (include/airflow_plugins/), which Airflow
imports in every one of its processes: only the scheduler (LocalExecutor) and a Celery worker preload; the CLI, the
API server, the dag-processor and the triggerer start as before.

It also loads Airflow's plugins as a task process would (each one does when it parses its DAG file: Cosmos' UI
plugin alone costs ~1.5 s), so that happens once here too.

Nothing here opens a connection, starts a thread or holds data: the modules are imported and the plugin classes
loaded, not used, so no task can see another's data or settings through them (each task still opens its own
connections and reads its settings). The plugins folder holds the local-settings hook that calls `preload`, so
loading the plugins calls it again: the second call returns at once.
"""

from __future__ import annotations

import importlib
import logging
import os
import time
from collections.abc import Sequence

log = logging.getLogger(__name__)

# The libraries the chain's tasks import, heaviest first, and the project modules that wrap them.
MODULES = (
    "great_expectations",
    "include.quality.validate",
    "cosmos",
    "include.transform.cosmos_adapter",
    "dbt.cli.main",  # the transform's tasks run dbt in their own process (~2.5 s to import)
    "dbt.adapters.postgres",
    "dbt.task.build",
    "openlineage.common.provider.dbt.local",  # Cosmos parses dbt's artifacts with it after every dbt call (~0.8 s)
    "pyarrow.parquet",
    "fsspec",
    "psycopg",
    "include.ingest.batch",
    "include.export.churn",
    "include.run_summary",
    "airflow.sdk.execution_time.task_runner",
)


def forks_tasks(argv: Sequence[str]) -> bool:
    """Is this the process whose children run tasks: `airflow scheduler` (LocalExecutor) or `airflow celery worker`?"""
    args = [a for a in argv[1:] if not a.startswith("-")]
    return args[:1] == ["scheduler"] or args[:2] == ["celery", "worker"]


_started = False


def preload(argv: Sequence[str]) -> list[str]:
    """Import MODULES and load Airflow's plugins when `argv` is a task-forking process; returns what was imported
    (empty otherwise, and on a second call)."""
    global _started
    if _started or not forks_tasks(argv) or os.environ.get("SA_PRELOAD", "on").lower() in ("0", "off", "false", "no"):
        return []
    _started = True
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    started = time.monotonic()
    loaded = []
    for name in MODULES:
        try:
            importlib.import_module(name)
            loaded.append(name)
        except Exception as exc:  # a task imports it again and reports the error where it belongs
            log.warning("preload of %s failed (tasks will import it themselves): %s: %s", name, type(exc).__name__,
                        exc)
    try:
        from airflow.sdk import plugins_manager

        plugins_manager.get_hook_lineage_readers_plugins()  # loads (and caches) every plugin, as a task would
        loaded.append("airflow plugins")
    except Exception as exc:  # a task loads them itself and reports a broken plugin where it belongs
        log.warning("preload of Airflow's plugins failed: %s: %s", type(exc).__name__, exc)
    log.info("preloaded %d modules for the task processes in %.1f s", len(loaded), time.monotonic() - started)
    return loaded
