"""Wall time of `dbt build` (all models + data tests + unit tests) at scale 1, next to the spec's "6–8 s for all
4 models".

Target: ≤ 3 s on this 2-core machine for an in-process build (`include.transform.runner.run_dbt`, dbtRunner) with
partial parse — dbt's start-up (interpreter, imports, full parse) dominates a subprocess `dbt build`.

Measured on a throwaway embedded warehouse with scale-1 simulator data (history + 2025-11-01..07):
- `dbt build` as a subprocess, the way the spec timed it (second run, so partial parse is available);
- in-process in a fresh interpreter: the first call (pays the dbt import), as a Cosmos DBT_RUNNER task would;
- in-process, warm (dbt already imported): median of --repeat calls; the headline figure;
- the same without unit tests (`--exclude-resource-type unit_test`), as dbt recommends for production runs.

Usage: python bench/bench_dbt.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import warnings
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

SPEC = "6-8 s"
TARGET_S = 3.0
DAYS = [f"2025-11-{d:02d}" for d in range(1, 8)]
FIRST_CALL = """
import json, sys, time
started = time.perf_counter()
from include.transform.runner import run_dbt
result = run_dbt(["build", "--quiet", "--target-path", sys.argv[1], "--log-path", sys.argv[2]])
print(json.dumps({"seconds": time.perf_counter() - started, "success": result.success}))
"""


def _subprocess_build(env: dict[str, str], target: Path, logs: Path, project: Path) -> float:
    from include.transform.dbt_env import dbt_executable

    args = [dbt_executable(), "build", "--quiet", "--project-dir", str(project), "--profiles-dir", str(project),
            "--target-path", str(target), "--log-path", str(logs)]
    started = time.perf_counter()
    subprocess.run(args, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def _first_in_process_call(env: dict[str, str], target: Path, logs: Path) -> float:
    out = subprocess.run([sys.executable, "-c", FIRST_CALL, str(target), str(logs)], env=env, check=True,
                         capture_output=True, text=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    if not result["success"]:
        raise SystemExit("dbt build failed in the first in-process call")
    return float(result["seconds"])


def run(repeat: int) -> None:
    from _warehouse import bench_warehouse

    with bench_warehouse("dbt") as local:
        from include.config import get_settings
        from include.ingest.batch import load_batch
        from include.simulator import generate
        from include.transform.dbt_env import dbt_env
        from include.transform.runner import run_dbt

        settings = get_settings()
        generate(settings.landing_root, scale=1.0, start=date(2025, 11, 1), end=date(2025, 11, 7))
        rows = sum(r.rows_loaded for batch in ["history", *DAYS] for r in load_batch(batch, settings))
        target, logs = local / "dbt-target", local / "dbt-logs"
        env = {**os.environ, **dbt_env(settings)}

        cold = _subprocess_build(env, target, logs, settings.dbt_project_dir)  # full parse, creates everything
        cli = _subprocess_build(env, target, logs, settings.dbt_project_dir)  # partial parse
        first = _first_in_process_call(env, target, logs)

        def build(*extra: str) -> float:
            result = run_dbt(["build", "--quiet", *extra], settings, target_path=target, log_path=logs)
            if not result.success:
                raise SystemExit(f"dbt build failed: {result.summary()}")
            return result.seconds

        build()  # import dbt in this process
        full = [build() for _ in range(repeat)]
        counts = json.loads((target / "run_results.json").read_text())
        nodes: dict[str, int] = {}
        for result in counts["results"]:
            kind = result["unique_id"].split(".")[0]
            nodes[kind] = nodes.get(kind, 0) + 1
        production = [build("--exclude-resource-type", "unit_test") for _ in range(repeat)]

        wall = statistics.median(full)
        print(f"scale 1: {rows:,} source rows; dbt build = {nodes.get('model', 0)} models, "
              f"{nodes.get('test', 0)} data tests, {nodes.get('unit_test', 0)} unit tests "
              f"({os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f})")
        lines = [
            ("subprocess `dbt build`, full parse (first run)", cold, ""),
            ("subprocess `dbt build`, partial parse", cli, ""),
            ("in-process, first call in a fresh interpreter", first, "includes importing dbt"),
            (f"in-process, warm, median of {repeat}", wall, f"min {min(full):.2f}, max {max(full):.2f}"),
            ("in-process, warm, without unit tests (production)", statistics.median(production), ""),
        ]
        for label, seconds, note in lines:
            print(f"  {label:<52}{seconds:6.2f} s" + (f"  ({note})" if note else ""))
        verdict = "OK" if wall <= TARGET_S else "MISSED"
        print(f"dbt build wall={wall:.1f}s (spec: {SPEC}; target <= {TARGET_S:g} s): {verdict}")


def main() -> None:
    warnings.filterwarnings("ignore")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    run(parser.parse_args().repeat)


if __name__ == "__main__":
    main()
