"""Command line: `python -m include.simulator --out <root> [...]`; prints one line per folder written."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path

from .defects import DEFECTS
from .generator import generate


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m include.simulator", description=__doc__)
    p.add_argument("--out", type=Path, required=True, help="landing root to write folders under")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--scale", type=float, default=1.0, help="1.0 = ~10k customers, ~15k tickets")
    p.add_argument("--history-start", type=date.fromisoformat, default=date(2025, 1, 1))
    p.add_argument("--start", type=date.fromisoformat, default=date(2025, 11, 1), help="first daily folder")
    p.add_argument("--end", type=date.fromisoformat, default=date(2025, 11, 7), help="last daily folder")
    p.add_argument(
        "--defect",
        action="append",
        default=[],
        metavar="NAME[:TABLE[:DATE]]",
        help=f"inject a fault (repeatable); NAME is one of: {', '.join(DEFECTS)}",
    )
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    report = generate(
        args.out,
        seed=args.seed,
        scale=args.scale,
        history_start=args.history_start,
        start=args.start,
        end=args.end,
        defects=args.defect,
        progress=lambda line: print(line, flush=True),
    )
    for folder in report.folders:
        counts = " ".join(f"{t}={n}" for t, n in folder.rows.items())
        print(f"{folder.path} {counts}")
    for d in report.defects:
        where = f"line {d.line}" if d.line is not None else "whole file/manifest"
        print(f"defect {d.name}: {d.file} ({where}) {d.detail}")
    print(f"{report.total_rows} rows in {report.wall_seconds:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
