"""DAG parse time per file, as the dag-processor sees it (a fresh interpreter that has imported Airflow).

Target (issue 8): < 1 s per file. Usage: python bench/bench_dag_parse.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

DAGS = Path(__file__).resolve().parents[1] / "dags"
TARGET_S = 1.0
PROBE = """
import time, warnings
warnings.filterwarnings("ignore")
import airflow.sdk
from airflow.dag_processing.dagbag import BundleDagBag
t = time.perf_counter()
bag = BundleDagBag({path!r}, bundle_path={dags!r})
print(time.perf_counter() - t, len(bag.dags), len(bag.import_errors))
"""


def parse_seconds(path: Path) -> float:
    # the local-only source-system DAG exists only where the simulated source is on: measure it too
    env = {**os.environ, "SA_SIMULATED_SOURCE": "on"}
    out = subprocess.run([sys.executable, "-c", PROBE.format(path=str(path), dags=str(DAGS))],
                         capture_output=True, text=True, check=True, env=env)
    seconds, dags, errors = out.stdout.strip().splitlines()[-1].split()
    if int(errors) or not int(dags):
        raise SystemExit(f"{path.name}: {errors} import errors, {dags} DAGs\n{out.stderr[-2000:]}")
    return float(seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    repeat = parser.parse_args().repeat
    for path in sorted(DAGS.glob("*.py")):
        times = [parse_seconds(path) for _ in range(repeat)]
        median = statistics.median(times)
        verdict = "OK" if median < TARGET_S else "MISSED"
        print(f"{path.name:28} parse median {median:.3f}s (min {min(times):.3f}s, n={repeat}); "
              f"target < {TARGET_S:.0f} s: {verdict}")


if __name__ == "__main__":
    main()
