"""Wall time of the Great Expectations gate for one day (all 7 tables), a night and the weekly full check.

A night runs the batch suites (the day's rows); the weekly full-check day (SA_FULL_CHECK_WEEKDAY) adds the
whole-table suites (every row's key, orphans in every row): both are timed on the same landed day, same run.
Target (issue 6): < 5 s for a scale-1 night on this machine. The one-off GX import (paid once per task process) is
printed apart.
Usage: python bench/bench_validation.py [--scale 1] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from dataclasses import replace
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
        day = "2025-11-01"
        night, weekly, with_docs = [], [], []
        for _ in range(args.repeat):
            started = time.perf_counter()
            reports = validate_batch(day, settings, build_docs=False)
            night.append(time.perf_counter() - started)
            started = time.perf_counter()
            validate_batch(day, settings, build_docs=True)
            with_docs.append(time.perf_counter() - started)
            full_check_day = replace(settings, full_check_weekday=date.fromisoformat(day).isoweekday())
            started = time.perf_counter()
            weekly_reports = validate_batch(day, full_check_day, build_docs=False)
            weekly.append(time.perf_counter() - started)
        median = statistics.median(night)
        print(f"GX gate, scale {args.scale:g} day {day}: a night ({sum(len(r.outcomes) for r in reports)} "
              f"expectations on 7 tables) median {median:.2f}s (min {min(night):.2f}s, n={args.repeat}); target < "
              f"{TARGET_S:.0f} s: {'OK' if median < TARGET_S else 'MISSED'}; with the data-docs rebuild "
              f"{statistics.median(with_docs):.2f}s; the weekly full check "
              f"({sum(len(r.outcomes) for r in weekly_reports)} expectations, + whole-table suites) "
              f"{statistics.median(weekly):.2f}s; one-off GX import {imported:.1f}s")

if __name__ == "__main__":
    main()
