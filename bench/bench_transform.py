"""Cosmos transform wall time ÷ plain `dbt build` wall time, at scale 1.

- plain: `dbt build` as a CLI subprocess (what the spec's "6–8 s for all 4 models" refers to), timed on its second
  runs after a warm-up run (which writes dbt's partial-parse file);
- Cosmos: the `support_transform` DAG as it ships (WATCHER execution: one `dbt build` subprocess, the producer, plus
  one sensor per model) run with `dag.test()`, every task in this process; timed after a warm-up run, like plain
  (the warm-up starts Airflow's in-process execution API — in production the API server is already up — and
  fills Cosmos' partial-parse cache). The warm-up run's time is printed too;
- the figures are medians of 3 timed runs each;
- with `--scheduler`, also one run under the real scheduler (LocalExecutor: one process per task), triggered over
  the REST API; its time is the run's duration as Airflow records it.
Target (issue 8): ratio ≤ 1.5. Usage: python bench/bench_transform.py [--scheduler]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
import warnings
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

TARGET_RATIO = 1.5
AS_OF = "2025-11-01"
RUNS = 3  # timed runs of each, after one warm-up run; the figures are their medians (this machine's I/O varies)


def plain_dbt_build(settings) -> list[float]:  # type: ignore[no-untyped-def]
    """Wall time of `dbt build` CLI runs after a warm-up run."""
    from include.transform.dbt_env import dbt_env, dbt_executable

    env = {**os.environ, **dbt_env(settings)}
    args = [dbt_executable(), "build", "--vars", f"{{as_of_date: '{AS_OF}'}}", "--quiet",
            "--project-dir", str(settings.dbt_project_dir), "--profiles-dir", str(settings.dbt_project_dir)]
    subprocess.run(args, env=env, check=True)  # warm-up: partial parse for these vars
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        subprocess.run(args, env=env, check=True)
        times.append(time.perf_counter() - started)
    return times


def cosmos_dag_test(settings) -> tuple[list[float], int]:  # type: ignore[no-untyped-def]
    """Wall time of `dag.test()` runs of the transform DAG in this process: the warm-up run, then RUNS more."""
    from airflow.dag_processing.dagbag import BundleDagBag

    dags = str(settings.dags_folder)
    dag = BundleDagBag(dags, bundle_path=dags).dags["support_transform"]
    times = []
    for _ in range(1 + RUNS):
        started = time.perf_counter()
        run = dag.test(run_conf={"as_of_date": AS_OF})
        times.append(time.perf_counter() - started)
        if run.state != "success":
            raise SystemExit(f"support_transform failed: {[(t.task_id, t.state) for t in run.get_task_instances()]}")
    return times, len(dag.tasks)


def cosmos_scheduler(settings) -> float:  # type: ignore[no-untyped-def]
    from include import airflow_local

    airflow_local.start(settings)
    try:
        api = airflow_local.api(settings)
        api.wait_for_dags(["support_transform"])
        api.unpause("support_transform")
        run_id = api.trigger("support_transform", conf={"as_of_date": AS_OF})
        while api.run("support_transform", run_id)["state"] not in ("success", "failed"):
            time.sleep(1)
        run = api.run("support_transform", run_id)
        from datetime import datetime

        start = datetime.fromisoformat(run["start_date"].replace("Z", "+00:00"))
        end = datetime.fromisoformat(run["end_date"].replace("Z", "+00:00"))
        return (end - start).total_seconds()
    finally:
        airflow_local.stop(settings)


def _fmt(times: list[float]) -> str:
    return ", ".join(f"{t:.1f}" for t in times)


def main() -> None:
    warnings.filterwarnings("ignore")
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scheduler", action="store_true", help="also time a run under the real scheduler")
    with_scheduler = parser.parse_args().scheduler
    from _warehouse import bench_warehouse

    with bench_warehouse("transform"):
        os.environ["SA_RETRY_DELAY_S"] = "1"
        from include import airflow_local
        from include.config import get_settings
        from include.ingest.batch import load_batch
        from include.simulator import generate

        settings = get_settings()
        os.environ.update(airflow_local.airflow_env(settings))
        generate(settings.landing_root, start=date(2025, 11, 1), end=date(2025, 11, 1))
        load_batch("history", settings)
        load_batch(AS_OF, settings)
        airflow_local.migrate(settings)
        plain_runs = plain_dbt_build(settings)
        (first, *cosmos_runs), tasks = cosmos_dag_test(settings)
        plain, cosmos = statistics.median(plain_runs), statistics.median(cosmos_runs)
        ratio = cosmos / plain
        print(f"plain dbt build (CLI, after a warm-up run): median {plain:.1f}s of {_fmt(plain_runs)} (spec: 6-8 s)")
        print(f"Cosmos support_transform via dag.test ({tasks} tasks, WATCHER, producer = dbt subprocess), after a "
              f"warm-up run ({first:.1f}s): median {cosmos:.1f}s of {_fmt(cosmos_runs)}")
        print(f"ratio {ratio:.2f} (target <= {TARGET_RATIO}): {'OK' if ratio <= TARGET_RATIO else 'MISSED'}")
        if with_scheduler:
            real = cosmos_scheduler(settings)
            print(f"Cosmos support_transform under the real scheduler (LocalExecutor, parallelism 4): {real:.1f}s; "
                  f"ratio {real / plain:.2f}")
        from airflow.settings import dispose_orm

        dispose_orm()  # close Airflow's pool before the throwaway warehouse stops


if __name__ == "__main__":
    main()
