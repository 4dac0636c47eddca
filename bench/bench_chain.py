"""The nightly chain for one scale-1 date under the real scheduler: wall time against the work itself.

For each run (one date each, one after the other, nothing else running) it records, per DAG and in total:
- wall: from the extract run's start to the end of the last run of the chain (per DAG: the run's own duration);
- in tasks: the summed durations of the run's tasks (as Airflow records them);
- floor: the work itself — the load transactions (`audit.load_batches`), the gate's expectations (the time
  `validate_batch` spent inside GX's checkpoints), dbt's own execution time (`run_results.json`'s elapsed_time) and
  the export's read-and-write time;
and prints medians over the runs, the ratio wall ÷ floor, and the targets of issue 20 beside them: whole chain ≤ 25 s,
`validate_batch` ≤ 4 s, `support_transform` ≤ 1.5 × a plain `dbt build` CLI subprocess on the same project (timed in
the same run, median of 3 after a warm-up).

Usage: python bench/bench_chain.py [--runs 3] [--executors LocalExecutor,CeleryExecutor]
Both executors by default, one after the other on the same warehouse: CeleryExecutor needs Redis on 127.0.0.1:6379
(database 14, emptied first) and runs SA_CELERY_WORKERS workers (default 2) beside the scheduler.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
import warnings
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

CHAIN_TARGET_S = 25.0
GATE_TARGET_S = 4.0
TRANSFORM_RATIO_TARGET = 1.5
FIRST_DAY = date(2025, 11, 1)


def _ts(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _duration(run: dict[str, Any]) -> float:
    return (_ts(run["end_date"]) - _ts(run["start_date"])).total_seconds()


def plain_dbt_build(settings: Any, as_of: str) -> float:
    """Median of 3 `dbt build` CLI runs after a warm-up (the floor's yardstick for the transform)."""
    from include.transform.dbt_env import dbt_env, dbt_executable

    env = {**os.environ, **dbt_env(settings), "SA_AS_OF_DATE": as_of}
    args = [dbt_executable(), "build", "--quiet", "--project-dir", str(settings.dbt_project_dir), "--profiles-dir",
            str(settings.dbt_project_dir), "--target-path", str(settings.local_dir / "dbt-plain")]
    subprocess.run(args, env=env, check=True)
    times = []
    for _ in range(3):
        started = time.perf_counter()
        subprocess.run(args, env=env, check=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _busy_cpu_seconds() -> float:
    """CPU seconds this machine has spent busy since boot, all processes (/proc/stat: all but idle and iowait)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def _wait_for(api: Any, dag_id: str, partition: str, timeout_s: float = 900) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        runs = [r for r in api.runs(dag_id) if r.get("partition_key") == partition]
        if runs and runs[-1]["state"] in ("success", "failed"):
            return runs[-1]
        time.sleep(0.5)
    raise TimeoutError(f"{dag_id} {partition} did not finish")


def _in_tasks(api: Any, dag_id: str, run_id: str) -> float:
    return sum(float(t.get("duration") or 0) for t in api.task_instances(dag_id, run_id))


def _xcom(api: Any, dag_id: str, run_id: str, task_id: str, key: str = "return_value") -> Any:
    import urllib.parse

    path = (f"/api/v2/dags/{dag_id}/dagRuns/{urllib.parse.quote(run_id, safe='')}/taskInstances/{task_id}"
            f"/xcomEntries/{key}?deserialize=true")
    return api._request("GET", path)["value"]


def _print_timeline(api: Any, dag_id: str, run: dict[str, Any], chain_start: datetime) -> None:
    """Where a run's time went: each task's start and end, relative to the run's start; the run's own start and
    end relative to the chain's (the extract run's) start."""
    start = _ts(run["start_date"])
    tasks = sorted(api.task_instances(dag_id, run["dag_run_id"]), key=lambda t: t["start_date"] or "")
    began, ended = ((at - chain_start).total_seconds() for at in (start, _ts(run["end_date"])))
    print(f"  {dag_id} {began:.1f} → {ended:.1f} s of the chain; tasks (s from run start):")
    for t in tasks:
        if t["start_date"] and t["end_date"]:
            print(f"    {t['task_id']:28} {(_ts(t['start_date']) - start).total_seconds():6.1f} → "
                  f"{(_ts(t['end_date']) - start).total_seconds():6.1f}")


def one_chain(api: Any, settings: Any, day: str) -> dict[str, dict[str, float]]:
    from include.pipeline import (
        DBT_PRODUCER_TASK,
        EXPORT_DAG,
        EXPORT_TASK,
        EXTRACT_DAG,
        TRANSFORM_DAG,
        VALIDATE_BATCH_TASK,
    )
    from include.transform.results import DBT_ELAPSED_XCOM
    from include.warehouse.connect import connect

    busy_before = _busy_cpu_seconds()
    run_id = api.trigger(EXTRACT_DAG, logical_date=f"{day}T02:00:00Z")
    extract = api.wait_for_run(EXTRACT_DAG, run_id, timeout_s=900)
    transform = _wait_for(api, TRANSFORM_DAG, day)
    export = _wait_for(api, EXPORT_DAG, day)
    busy = _busy_cpu_seconds() - busy_before
    runs = ((EXTRACT_DAG, extract), (TRANSFORM_DAG, transform), (EXPORT_DAG, export))
    for dag_id, run in runs:
        if run["state"] != "success":
            raise SystemExit(f"{dag_id} {day} failed: see {settings.airflow_home}/logs")
    with connect("loader", settings) as conn:
        loads = float(conn.execute("select sum(extract(epoch from finished_at - started_at)) from audit.load_batches"
                                   " where batch_id = %s", (day,)).fetchone()[0])
    gate = float(_xcom(api, EXTRACT_DAG, run_id, VALIDATE_BATCH_TASK)["gate_seconds"])
    dbt = float(_xcom(api, TRANSFORM_DAG, transform["dag_run_id"], DBT_PRODUCER_TASK, DBT_ELAPSED_XCOM))
    export_s = float(_xcom(api, EXPORT_DAG, export["dag_run_id"], EXPORT_TASK)["seconds"])
    validate = next(t for t in api.task_instances(EXTRACT_DAG, run_id) if t["task_id"] == VALIDATE_BATCH_TASK)
    for dag_id, run in runs:
        _print_timeline(api, dag_id, run, _ts(extract["start_date"]))
    return {
        "support_extract": {"wall": _duration(extract), "tasks": _in_tasks(api, EXTRACT_DAG, run_id),
                            "floor": loads + gate},
        "support_transform": {"wall": _duration(transform),
                              "tasks": _in_tasks(api, TRANSFORM_DAG, transform["dag_run_id"]), "floor": dbt},
        "support_churn_export": {"wall": _duration(export),
                                 "tasks": _in_tasks(api, EXPORT_DAG, export["dag_run_id"]), "floor": export_s},
        "chain": {"wall": (_ts(export["end_date"]) - _ts(extract["start_date"])).total_seconds(),
                  "tasks": 0.0, "floor": loads + gate + dbt + export_s, "cpu": busy},
        "validate_batch": {"wall": float(validate["duration"]), "tasks": float(validate["duration"]), "floor": gate},
    }


BENCH_BROKER = "redis://127.0.0.1:6379/14"


def measure(executor: str, days: list[str]) -> list[dict[str, dict[str, float]]]:
    """Start the local runtime on `executor`, run a warm-up chain on days[0], then one chain per later day."""
    from include import airflow_local
    from include.config import get_settings

    os.environ["AIRFLOW__CORE__EXECUTOR"] = executor
    if executor == "CeleryExecutor":  # its own Redis database, emptied first: no stale message reaches a worker
        import redis

        os.environ["AIRFLOW__CELERY__BROKER_URL"] = BENCH_BROKER
        redis.Redis.from_url(BENCH_BROKER).flushdb()
    settings = get_settings()
    try:
        api = airflow_local.start_chain(settings)
        print(f"{executor}: warm-up chain {days[0]} (first task processes, caches) …", flush=True)
        one_chain(api, settings, days[0])
        results = []
        for day in days[1:]:
            results.append(one_chain(api, settings, day))
            print(f"{executor}: chain {day}: {results[-1]['chain']['wall']:.1f}s wall", flush=True)
        return results
    finally:
        airflow_local.stop(settings)


def _celery_broker_problem() -> str | None:
    import redis

    try:
        redis.Redis.from_url(BENCH_BROKER, socket_connect_timeout=3).ping()
    except redis.RedisError as exc:
        return str(exc)
    return None


def main() -> None:
    warnings.filterwarnings("ignore")
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--executors", default="LocalExecutor,CeleryExecutor",
                        help="comma-separated, measured one after the other in this run (default: both)")
    options = parser.parse_args()
    executors = [e.strip() for e in options.executors.split(",") if e.strip()]
    if "CeleryExecutor" in executors and (problem := _celery_broker_problem()):
        raise SystemExit(f"CeleryExecutor needs Redis at {BENCH_BROKER}: {problem} (or pass --executors LocalExecutor)")
    from _warehouse import bench_warehouse

    with bench_warehouse("chain") as local:
        with __import__("socket").socket() as probe:
            probe.bind(("127.0.0.1", 0))
            os.environ["SA_AIRFLOW_PORT"] = str(probe.getsockname()[1])
        os.environ.update({"SA_NIGHTLY_SCHEDULE": "off", "SA_SIMULATED_SOURCE": "off"})
        from include.config import get_settings
        from include.ingest.batch import load_batch
        from include.simulator import generate

        settings = get_settings()
        per_executor = options.runs + 1  # a warm-up day and one day per run, for each executor
        last = FIRST_DAY + timedelta(days=per_executor * len(executors) - 1)
        generate(settings.landing_root, start=FIRST_DAY, end=last)
        load_batch("history", settings)
        measured = {}
        for n, executor in enumerate(executors):
            days = [(FIRST_DAY + timedelta(days=n * per_executor + i)).isoformat() for i in range(per_executor)]
            measured[executor] = measure(executor, days)
        plain = plain_dbt_build(settings, last.isoformat())
        for executor, results in measured.items():
            workers = f", {settings.celery_workers} workers" if executor == "CeleryExecutor" else ""
            print(f"\n{executor}{workers}, scale 1, medians of {len(results)} runs "
                  f"(this machine: {os.cpu_count()} cores)")
            print(f"{'':22} {'wall s':>8} {'in tasks s':>11} {'floor s':>8} {'wall/floor':>11}")
            for name in ("support_extract", "validate_batch", "support_transform", "support_churn_export", "chain"):
                wall, tasks, floor = (statistics.median(r[name][k] for r in results)
                                      for k in ("wall", "tasks", "floor"))
                print(f"{name:22} {wall:8.1f} {tasks if tasks else float('nan'):11.1f} {floor:8.2f} "
                      f"{wall / floor if floor else float('nan'):11.1f}")
            chain = statistics.median(r["chain"]["wall"] for r in results)
            gate = statistics.median(r["validate_batch"]["wall"] for r in results)
            transform = statistics.median(r["support_transform"]["wall"] for r in results)
            ratio = transform / plain
            print(f"whole chain {chain:.1f}s (target <= {CHAIN_TARGET_S:g}s): {_verdict(chain <= CHAIN_TARGET_S)}")
            busy = statistics.median(r["chain"]["cpu"] for r in results)
            print(f"  the machine's CPUs were busy {busy:.1f} s of the chain's {chain * (os.cpu_count() or 1):.1f} "
                  "(all processes, from the trigger until the export finished)")
            print(f"validate_batch {gate:.1f}s (target <= {GATE_TARGET_S:g}s): {_verdict(gate <= GATE_TARGET_S)}")
            print(f"support_transform {transform:.1f}s ÷ plain dbt build {plain:.1f}s = {ratio:.2f} "
                  f"(target <= {TRANSFORM_RATIO_TARGET}): {_verdict(ratio <= TRANSFORM_RATIO_TARGET)}")
        if len(measured) > 1:
            chains = {e: statistics.median(r["chain"]["wall"] for r in rs) for e, rs in measured.items()}
            first = next(iter(chains))
            print("\nwhole chain, same run: " + ", ".join(
                f"{e} {c:.1f}s ({c / chains[first]:.2f} × {first})" for e, c in chains.items()))
        del local


def _verdict(met: bool) -> str:
    return "met" if met else "MISSED"


if __name__ == "__main__":
    main()
