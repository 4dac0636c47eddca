"""Task processes start warm: the process that forks them (scheduler, Celery worker) has imported the heavy
libraries and loaded Airflow's plugins before it forks (include/preload.py, called by the local-settings hook);
other Airflow processes do not."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from include.preload import forks_tasks

PROJECT = Path(__file__).resolve().parents[2]
PROBE = """
import json, sys
sys.argv = {argv!r}
import airflow.settings  # runs the local-settings hook in the plugins folder, as every Airflow process does
from airflow.sdk import plugins_manager
print(json.dumps({{"gx": "great_expectations" in sys.modules,
                   "plugins_loaded": plugins_manager._get_plugins.cache_info().currsize}}))
"""


@pytest.mark.parametrize(("argv", "forks"), [
    (["airflow", "scheduler"], True), (["airflow", "celery", "worker", "-q", "default"], True),
    (["airflow", "api-server"], False), (["airflow", "dag-processor"], False), (["airflow", "tasks", "test"], False),
])
def test_only_the_processes_that_fork_tasks_preload(argv: list[str], forks: bool) -> None:
    assert forks_tasks(argv) is forks


def test_a_scheduler_has_the_libraries_and_the_plugins_before_it_forks_a_task(tmp_path: Path) -> None:
    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
           "AIRFLOW__CORE__PLUGINS_FOLDER": str(PROJECT / "include" / "airflow_plugins"), "PYTHONPATH": str(PROJECT)}
    env.pop("SA_PRELOAD", None)
    out = subprocess.run([sys.executable, "-c", PROBE.format(argv=["airflow", "scheduler"])], env=env, cwd=PROJECT,
                         capture_output=True, text=True, timeout=300, check=True).stdout
    assert json.loads(out.strip().splitlines()[-1]) == {"gx": True, "plugins_loaded": 1}
    out = subprocess.run([sys.executable, "-c", PROBE.format(argv=["airflow", "api-server"])], env=env, cwd=PROJECT,
                         capture_output=True, text=True, timeout=300, check=True).stdout
    assert json.loads(out.strip().splitlines()[-1]) == {"gx": False, "plugins_loaded": 0}
