"""Wall time of the Great Expectations gate for one scale-1 day (all 7 tables, batch + whole-table suites).

Target (issue 6): < 5 s on this machine. The one-off GX import (paid once per task process) is printed apart.
Usage: python bench/bench_validation.py [--scale 1] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

TARGET_S = 5.0


def main() -> None:
    warnings.filterwarnings("ignore")
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    from _warehouse import bench_warehouse

    with bench_warehouse("validation"):
        from include.config import get_settings
        from include.ingest.batch import load_batch
        from include.simulator import generate

        settings = get_settings()
        generate(settings.landing_root, scale=args.scale, start=date(2025, 11, 1), end=date(2025, 11, 1))
        load_batch("history", settings)
        load_batch("2025-11-01", settings)
        started = time.perf_counter()
        import great_expectations  # noqa: F401
        from include.quality.validate import validate_batch

        imported = time.perf_counter() - started
        times, with_docs = [], []
        for _ in range(args.repeat):
            started = time.perf_counter()
            reports = validate_batch("2025-11-01", settings, build_docs=False)
            times.append(time.perf_counter() - started)
            started = time.perf_counter()
            validate_batch("2025-11-01", settings, build_docs=True)
            with_docs.append(time.perf_counter() - started)
        expectations = sum(len(r.outcomes) for r in reports)
        median = statistics.median(times)
        print(f"GX gate, scale {args.scale:g} day 2025-11-01: {expectations} expectations on 7 tables, "
              f"median {median:.2f}s (min {min(times):.2f}s, n={args.repeat}); target < {TARGET_S:.0f} s: "
              f"{'OK' if median < TARGET_S else 'MISSED'}; with the data-docs rebuild "
              f"{statistics.median(with_docs):.2f}s; one-off GX import {imported:.1f}s")


if __name__ == "__main__":
    main()
