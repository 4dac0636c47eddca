"""Landed rows/s of the extract (COPY → checks → upsert) at scale 1 and scale 100.

Target (issue 5): ≥ 200,000 rows/s for support_tickets on this 2-core machine, for the bulk load (scale 100: 1.6M
tickets). At scale 1 a table's ~15k rows take ~0.1 s, of which fixed costs (two connections, the load log, COPY
start-up, the index builds) are about half, so rows/s there measures latency, not throughput.
Usage: python bench/bench_extract.py [--scales 1 100]
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

TARGET_ROWS_PER_S = 200_000
BULK_SCALE = 100


def run(scale: float) -> None:
    from _warehouse import bench_warehouse

    with bench_warehouse(f"extract-{scale:g}") as local:
        from include.config import get_settings
        from include.ingest.batch import load_batch
        from include.simulator import generate

        settings = get_settings()
        started = time.perf_counter()
        generate(settings.landing_root, scale=scale, start=date(2025, 11, 1), end=date(2025, 11, 1))
        generated = time.perf_counter() - started
        started = time.perf_counter()
        results = load_batch("history", settings)
        wall = time.perf_counter() - started
        total = sum(r.rows_in for r in results)
        print(f"scale={scale:g}: generated in {generated:.1f}s; history batch {total:,} rows landed in {wall:.1f}s "
              f"= {total / wall:,.0f} rows/s (local dir {local})")
        for r in results:
            rate = r.rows_in / r.seconds if r.seconds else 0
            flag = ""
            if r.table == "support_tickets" and scale >= BULK_SCALE:
                flag = f"  target >= {TARGET_ROWS_PER_S:,} rows/s: {'OK' if rate >= TARGET_ROWS_PER_S else 'MISSED'}"
            elif r.table == "support_tickets":
                flag = f"  (the throughput target is for the bulk load, scale >= {BULK_SCALE:g})"
            print(f"  {r.table:18} {r.rows_in:>11,} rows {r.seconds:7.2f}s {rate:>11,.0f} rows/s{flag}")


def main() -> None:
    warnings.filterwarnings("ignore")
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scales", type=float, nargs="+", default=[1, 100])
    for scale in parser.parse_args().scales:
        run(scale)


if __name__ == "__main__":
    main()
