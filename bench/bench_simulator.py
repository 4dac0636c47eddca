"""Throughput and memory of the source simulator at a few scales.

Each scale runs in its own Python process so its peak RSS is its own (ru_maxrss never goes down within a
process). Prints one line per scale, e.g.
`scale=100 rows=21900000 wall=41.2s rows/s=531000 peak_rss=610MB disk=372MB`.

Usage: python bench/bench_simulator.py [--scales 1,100] [--out DIR] [--keep]
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _one(scale: float, out: Path) -> dict[str, float]:
    """Generate one scale in this process and measure it."""
    sys.path.insert(0, str(ROOT))
    from include.simulator import generate

    began = time.perf_counter()
    report = generate(out, scale=scale)
    wall = time.perf_counter() - began
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    disk = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    return {
        "scale": scale,
        "rows": report.total_rows,
        "wall": wall,
        "peak_rss_mb": peak_kb / 1024,
        "disk_mb": disk / 2**20,
    }


def _line(m: dict[str, float]) -> str:
    return (
        f"scale={m['scale']:g} rows={int(m['rows'])} wall={m['wall']:.1f}s rows/s={m['rows'] / m['wall']:,.0f} "
        f"peak_rss={m['peak_rss_mb']:.0f}MB disk={m['disk_mb']:.0f}MB"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scales", default="1,100", help="comma-separated scales (default 1,100)")
    parser.add_argument("--out", type=Path, default=None, help="where to write (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the generated folders")
    parser.add_argument("--one", type=float, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.one is not None:
        print(json.dumps(_one(args.one, args.out)))
        return 0

    base = args.out or Path(tempfile.mkdtemp(prefix="bench_simulator_"))
    try:
        for scale in (float(s) for s in args.scales.split(",")):
            out = base / f"scale_{scale:g}"
            shutil.rmtree(out, ignore_errors=True)
            cmd = [sys.executable, __file__, "--one", str(scale), "--out", str(out)]
            result = subprocess.run(cmd, check=True, capture_output=True, text=True)
            print(_line(json.loads(result.stdout.strip().splitlines()[-1])), flush=True)
            if not args.keep:
                shutil.rmtree(out, ignore_errors=True)
    finally:
        if args.out is None and not args.keep:
            shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
