"""`generate()`: simulate the source systems and write the landing zone.

Layout (`sources.md`): `<out>/history/` holds everything from before `start` (reference tables as they stood,
every customer and holding in its latest version, every ticket in its latest version, all logins since
history_start); `<out>/<YYYY-MM-DD>/` for each day start..end holds the rows created or changed that day.
Every folder always has all seven `<table>.csv.gz` files -- header-only when nothing changed (reference
tables are re-sent whole only on a day one of their rows changed) -- so the extract can always expect seven
files, and a `_manifest.json` written last.

Customers are simulated in chunks of 50,000, each with its own random streams, and each chunk's rows are
streamed to every open folder before the next chunk is drawn: memory is bounded by the chunk, not the scale.
Days are written in passes of up to 31 folders (bounding open files); each pass re-draws the chunks, which is
exact because nothing drawn depends on the window being written.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from . import arrow, rows
from . import world as w
from .activity import simulate
from .defects import HISTORY, MANIFEST_DEFECTS, DefectReport, DefectSpec
from .manifest import MANIFEST, entry, withdraw, write_manifest
from .population import Sizing, build_population
from .reference import change_dates, reference_rows
from .routing import Window
from .schema import BY_NAME, REFERENCE_TABLES, TABLE_NAMES
from .sinks import Sink, open_sink, tamper_manifest_entry
from .writer import WrittenFile

Progress = Callable[[str], None]  # receives one line of progress at a time

MAX_DAYS_PER_PASS = 31


@dataclass(frozen=True)
class FolderReport:
    name: str
    """'history' or the logical date (YYYY-MM-DD)."""
    path: Path
    rows: dict[str, int]
    manifest: Path | None
    """None when the folder was deliberately left without a manifest (defect `missing_manifest`)."""


@dataclass(frozen=True)
class GenerationReport:
    out: Path
    seed: int
    scale: float
    folders: tuple[FolderReport, ...]
    defects: tuple[DefectReport, ...]
    wall_seconds: float

    def folder(self, name: str) -> FolderReport:
        for f in self.folders:
            if f.name == name:
                return f
        raise KeyError(name)

    def rows(self, table: str) -> int:
        """Rows of `table` over all folders."""
        return sum(f.rows[table] for f in self.folders)

    @property
    def total_rows(self) -> int:
        return sum(sum(f.rows.values()) for f in self.folders)


def _midnight(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), tzinfo=UTC)


def _check_dates(history_start: date, start: date, end: date) -> None:
    if history_start < w.EARLIEST_HISTORY_START:
        raise ValueError(f"history_start must be on or after {w.EARLIEST_HISTORY_START} (the catalogue's creation)")
    if not history_start <= start <= end:
        raise ValueError(f"need history_start <= start <= end, got {history_start}, {start}, {end}")


def _plan_defects(
    specs: Sequence[DefectSpec | str], start: date, folders: Sequence[str]
) -> dict[tuple[str, str], DefectSpec]:
    """One defect per file; manifest-level defects at most one per folder."""
    planned: dict[tuple[str, str], DefectSpec] = {}
    manifest_level: set[str] = set()
    for raw in specs:
        spec = (DefectSpec.parse(raw) if isinstance(raw, str) else raw.validated()).resolve(start)
        assert spec.folder is not None
        if spec.folder not in folders:
            raise ValueError(
                f"defect {spec.name}: folder {spec.folder} is not written (have {folders[0]}..{folders[-1]})"
            )
        if (spec.folder, spec.table) in planned:
            raise ValueError(f"two defects for {spec.folder}/{spec.table}; one file takes one defect")
        if spec.name in MANIFEST_DEFECTS:
            if spec.folder in manifest_level:
                raise ValueError(f"two manifest defects for folder {spec.folder}")
            manifest_level.add(spec.folder)
        planned[(spec.folder, spec.table)] = spec
    return planned


def _windows(start: date, end: date, with_history: bool = True) -> list[Window]:
    n_days = (end - start).days + 1
    first = w.epoch_day(start)
    windows = []
    for offset in range(0, n_days, MAX_DAYS_PER_PASS):
        cutoff = first * w.DAY_SECONDS if offset == 0 and with_history else None
        windows.append(Window(cutoff, first + offset, min(MAX_DAYS_PER_PASS, n_days - offset)))
    return windows


def _folder_names(window: Window) -> list[str]:
    days = [(w.EPOCH + timedelta(days=window.first_day + i)).isoformat() for i in range(window.n_days)]
    return ([HISTORY] if window.history_cutoff is not None else []) + days


def _write_reference(sinks: dict[tuple[int, str], Sink], names: list[str], start: date) -> None:
    for pos, name in enumerate(names):
        for table in sorted(REFERENCE_TABLES):
            if name == HISTORY:
                values = reference_rows(table, _midnight(start))
            else:
                day = date.fromisoformat(name)
                values = reference_rows(table, _midnight(day + timedelta(days=1))) if day in change_dates(table) else []
            columns = BY_NAME[table].columns
            piece = {c: arrow.strings([v[i] for v in values]) for i, c in enumerate(columns)}
            sinks[(pos, table)].write(piece)


def _write_pass(
    out: Path,
    window: Window,
    seed: int,
    scale: float,
    sizing: Sizing,
    cal: w.Calendar,
    start: date,
    planned: dict[tuple[str, str], DefectSpec],
    progress: Progress | None = None,
) -> tuple[list[FolderReport], list[DefectReport]]:
    names = _folder_names(window)
    began = time.perf_counter()
    sinks: dict[tuple[int, str], Sink] = {}
    for pos, name in enumerate(names):
        folder = out / name
        folder.mkdir(parents=True, exist_ok=True)
        withdraw(folder)
        for table in TABLE_NAMES:
            sinks[(pos, table)] = open_sink(folder / f"{table}.csv.gz", table, planned.get((name, table)))
    _write_reference(sinks, names, start)
    for chunk, (lo, hi) in enumerate(sizing.chunks()):
        pop = build_population(seed, chunk, lo, hi, sizing, cal)
        timeline = simulate(seed, chunk, pop, cal, window.last_day)
        for table, (routed, piece) in (
            ("customers", rows.customers(pop, window)),
            ("customer_products", rows.holdings(pop, window)),
            ("support_tickets", rows.tickets(timeline, chunk, window)),
            ("customer_logins", rows.logins(timeline, chunk, window)),
        ):
            for pos, part in enumerate(rows.split(routed, piece, window.n_folders)):
                sinks[(pos, table)].write(part)
        if progress is not None:
            progress(f"{names[0]}…{names[-1]}: customers {hi:,} of {sizing.total:,} "
                     f"(chunk {chunk + 1} of {len(sizing.chunks())}), {time.perf_counter() - began:.0f}s")

    written: dict[tuple[int, str], WrittenFile] = {key: sink.close() for key, sink in sinks.items()}
    defect_reports: list[DefectReport] = [r for s in sinks.values() if (r := getattr(s, "report", None))]
    folders: list[FolderReport] = []
    for pos, name in enumerate(names):
        folder = out / name
        files = {table: entry(written[(pos, table)]) for table in TABLE_NAMES}
        manifest_path: Path | None = folder / MANIFEST
        for table in TABLE_NAMES:
            spec = planned.get((name, table))
            if spec is None or spec.name not in MANIFEST_DEFECTS:
                continue
            target = folder / MANIFEST
            if spec.name == "missing_manifest":
                manifest_path = None
                detail = "folder written without _manifest.json"
            else:
                files[table], detail = tamper_manifest_entry(files[table], spec)
            defect_reports.append(DefectReport(spec.name, table, name, target, None, None, None, detail))
        if manifest_path is not None:
            write_manifest(folder, name, seed, scale, files)
        rows_by_table = {table: written[(pos, table)].rows for table in TABLE_NAMES}
        folders.append(FolderReport(name, folder, rows_by_table, manifest_path))
    return folders, defect_reports


def generate(
    out: Path,
    *,
    seed: int = 42,
    scale: float = 1.0,
    history_start: date = date(2025, 1, 1),
    start: date = date(2025, 11, 1),
    end: date = date(2025, 11, 7),
    defects: Sequence[DefectSpec | str] = (),
    with_history: bool = True,
    progress: Progress | None = None,
) -> GenerationReport:
    """Write the history folder and one folder per day start..end under `out`; see the module docstring.

    `with_history=False` writes only the day folders (a nightly delivery): each is byte-identical to the same
    day written by a run with an earlier `start`. `progress`, when given, receives one line per chunk of customers
    written (large scales take minutes: say how far it got)."""
    began = time.perf_counter()
    if scale <= 0:
        raise ValueError("scale must be positive")
    if seed < 0:
        raise ValueError("seed must be a non-negative integer")
    _check_dates(history_start, start, end)
    out = Path(out)
    windows = _windows(start, end, with_history)
    all_names = [n for window in windows for n in _folder_names(window)]
    planned = _plan_defects(defects, start, all_names)
    sizing = Sizing.at(scale)
    cal = w.Calendar.build(history_start)
    folders: list[FolderReport] = []
    reports: list[DefectReport] = []
    for window in windows:
        f, r = _write_pass(out, window, seed, scale, sizing, cal, start, planned, progress)
        folders.extend(f)
        reports.extend(r)
    return GenerationReport(out, seed, scale, tuple(folders), tuple(reports), time.perf_counter() - began)
