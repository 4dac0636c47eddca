"""How the nightly run grows with the size of history: scales 1, 10, 100 (1000 on request, disk permitting).

For each scale, in a throwaway embedded warehouse: generate the history and two days, land the history, build the
marts once (`dbt build`, timed: the first full build), then start the local Airflow (LocalExecutor, the real
scheduler) and run the nightly chain for the first day (warm-up: first task processes, caches) and the second
(measured). Per scale it prints:
- nightly wall: the measured day's chain from the extract run's start to the export's end (Airflow included);
- nightly work: the floor of that chain — load transactions, the gate's expectations, dbt's own execution time,
  the export (bench_chain.py's definition) — and its ratio to scale 1's (the target: scale 1000 ÷ scale 1 ≤ 5);
- peak memory: the largest summed PSS (shared pages counted once) of the Airflow processes and everything they
  started (task processes, dbt), sampled every 0.25 s during the measured day; PostgreSQL's own is not in it;
- database size (pg_database_size) and the WAL directory's size after the day;
- at the largest scale run: `dbt build --full-refresh` timed beside the nightly run's dbt time (not with
  `--no-full-refresh`: at scale 1000 it adds ~20 minutes).

Disk: scale 100 needs ~8 GB free (landing files, database, WAL), scale 1000 ten times as much; `--scales` picks.
Usage: python bench/bench_scale.py [--scales 1,10,100] [--no-full-refresh]
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
import warnings
from datetime import date, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

# The warm-up day is a Sunday, the default weekly full-check day, and the measured day a Monday; both run as ordinary
# nights (the big tables' tests and the gate check the rows loaded since the last build): the full check moves to
# Wednesdays here (SA_FULL_CHECK_WEEKDAY), since at scale 1000 it outlasts the bench's wait for the warm-up night.
FIRST_DAY = date(2025, 11, 2)
FULL_CHECK_WEEKDAY = "3"


class PeakRss:
    """Samples the summed PSS of a set of process trees until stopped; `peak_mb` is the largest sum seen."""

    def __init__(self, roots: list[int]) -> None:
        self.roots, self.peak_mb = roots, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(0.25):
            self.peak_mb = max(self.peak_mb, sum(_pss_kb(pid) for pid in _trees(self.roots)) / 1024)


def _trees(roots: list[int]) -> list[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(stat.parent.name))
    found, todo = [], list(roots)
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def _pss_kb(pid: int) -> int:
    """Proportional set size: pages shared by the forked task processes count once in the sum, not per process."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _sizes_mb(settings: Any) -> tuple[float, float]:
    from include.warehouse.connect import connect

    with connect("admin", settings) as conn:
        database = conn.execute("select pg_database_size(current_database())").fetchone()[0]
        wal = conn.execute("select coalesce(sum(size), 0) from pg_ls_waldir()").fetchone()[0]
    return database / 2**20, wal / 2**20


def _timed_dbt(settings: Any, args: list[str]) -> float:
    from include.transform.runner import run_dbt

    started = time.perf_counter()
    result = run_dbt([*args, "--quiet"], settings, target_path=settings.local_dir / "dbt-bench")
    if not result.success:
        raise SystemExit(f"dbt {' '.join(args)} failed: {result.summary()}")
    return time.perf_counter() - started


def one_scale(scale: float, full_refresh: bool) -> dict[str, float]:
    """Everything for one scale in a fresh warehouse (see the module docstring)."""
    from _warehouse import bench_warehouse
    from bench_chain import one_chain

    with bench_warehouse(f"scale{scale:g}"):
        with __import__("socket").socket() as probe:
            probe.bind(("127.0.0.1", 0))
            os.environ["SA_AIRFLOW_PORT"] = str(probe.getsockname()[1])
        os.environ.update({"SA_NIGHTLY_SCHEDULE": "off", "SA_SIMULATED_SOURCE": "off",
                           "AIRFLOW__CORE__EXECUTOR": "LocalExecutor", "SA_FULL_CHECK_WEEKDAY": FULL_CHECK_WEEKDAY})
        from include import airflow_local
        from include.config import get_settings
        from include.ingest.batch import load_batch
        from include.simulator import generate

        settings = get_settings()
        warm_up, measured = FIRST_DAY.isoformat(), (FIRST_DAY + timedelta(days=1)).isoformat()
        started = time.perf_counter()
        report = generate(settings.landing_root, scale=scale, start=FIRST_DAY, end=FIRST_DAY + timedelta(days=1))
        simulate_s = time.perf_counter() - started
        started = time.perf_counter()
        load_batch("history", settings)
        history_s = time.perf_counter() - started
        build_s = _timed_dbt(settings, ["build", "--vars", f"{{as_of_date: '{FIRST_DAY - timedelta(days=1)}'}}"])
        print(f"scale {scale:g}: {report.total_rows} rows simulated in {simulate_s:.0f}s, history landed in "
              f"{history_s:.0f}s, first dbt build {build_s:.0f}s", flush=True)
        try:
            api = airflow_local.start_chain(settings)
            one_chain(api, settings, warm_up)
            roots = [s.pid for s in airflow_local.component_states(settings) if s.pid]
            with PeakRss(roots) as memory:
                chain = one_chain(api, settings, measured)
        finally:
            airflow_local.stop(settings)
        database_mb, wal_mb = _sizes_mb(settings)
        result = {"scale": scale, "rows": float(report.total_rows), "history_s": history_s, "build_s": build_s,
                  "wall_s": chain["chain"]["wall"], "work_s": chain["chain"]["floor"],
                  "dbt_s": chain["support_transform"]["floor"], "peak_mb": memory.peak_mb,
                  "database_mb": database_mb, "wal_mb": wal_mb}
        # printed now: at scale 1000 the full refresh below takes another ~20 minutes (and most of the disk left)
        print(f"scale {scale:g}: nightly wall {result['wall_s']:.1f}s, work {result['work_s']:.1f}s (dbt "
              f"{result['dbt_s']:.1f}s), peak {result['peak_mb']:.0f} MB, database {database_mb:.0f} MB, WAL "
              f"{wal_mb:.0f} MB", flush=True)
        if full_refresh:
            result["full_refresh_s"] = _timed_dbt(settings, ["build", "--full-refresh", "--vars",
                                                             f"{{as_of_date: '{measured}'}}"])
        return result


def main() -> None:
    warnings.filterwarnings("ignore")
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--scales", default="1,10,100", help="comma-separated simulator scales (default 1,10,100)")
    parser.add_argument("--no-full-refresh", action="store_true",
                        help="skip the full refresh at the largest scale (~20 minutes at scale 1000)")
    options = parser.parse_args()
    scales = [float(s) for s in options.scales.split(",") if s.strip()]
    results = [one_scale(scale, full_refresh=scale == max(scales) and not options.no_full_refresh)
               for scale in scales]
    base = results[0]
    print(f"\nnightly run per scale, one day after a built history (this machine: {os.cpu_count()} cores; "
          "work = loads + gate + dbt + export, wall adds Airflow)")
    print(f"{'scale':>6} {'rows':>11} {'history s':>10} {'1st build s':>12} {'nightly wall s':>15} "
          f"{'work s':>7} {'work ÷ scale 1':>15} {'peak MB':>8} {'DB MB':>7} {'WAL MB':>7}")
    for r in results:
        print(f"{r['scale']:6g} {r['rows']:11.0f} {r['history_s']:10.1f} {r['build_s']:12.1f} {r['wall_s']:15.1f} "
              f"{r['work_s']:7.1f} {r['work_s'] / base['work_s']:15.2f} {r['peak_mb']:8.0f} {r['database_mb']:7.0f} "
              f"{r['wal_mb']:7.0f}")
    last = results[-1]
    full_refresh = (f"dbt build --full-refresh {last['full_refresh_s']:.1f}s" if "full_refresh_s" in last
                    else "full refresh not run (--no-full-refresh)")
    print(f"\nscale {last['scale']:g}: dbt in the nightly run {last['dbt_s']:.1f}s (incremental: the ticket mart, the "
          f"period marts, the churn activity; the big tables' tests on their new rows); {full_refresh}")
    print(f"work at scale {last['scale']:g} ÷ scale {base['scale']:g} = {last['work_s'] / base['work_s']:.2f} "
          "(issue 18's target for scale 1000 ÷ scale 1: <= 5)")


if __name__ == "__main__":
    main()
