"""Reading and verifying a landing folder's `_manifest.json` (written last by the source system)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from include import contract
from include.contract import HISTORY
from include.ingest.errors import BadBatchId, IncompleteBatch, ManifestMismatch, UnreadableFile
from include.ingest.stage import FileScan, inspect_file

MANIFEST = "_manifest.json"
ENTRY_KEYS = ("file", "rows", "sha256")
SHA256 = re.compile(r"[0-9a-fA-F]{64}")


@dataclass(frozen=True)
class FileEntry:
    table: str
    path: Path
    rows: int
    sha256: str


@dataclass(frozen=True)
class Manifest:
    folder: Path
    files: dict[str, FileEntry]


def batch_folder(landing_root: Path, batch_id: str) -> Path:
    """The landing folder of a batch. The id is `history` or a date YYYY-MM-DD, nothing else: a run conf or a CLI
    argument such as `../../etc` or `/etc` must never name a folder outside the landing root."""
    if batch_id != HISTORY:
        try:
            valid = date.fromisoformat(batch_id).isoformat() == batch_id
        except (TypeError, ValueError):
            valid = False
        if not valid:
            raise BadBatchId(f"batch {batch_id!r} refused: a batch is 'history' or a date YYYY-MM-DD "
                             f"(a folder directly under {landing_root})")
    return landing_root / batch_id


def is_complete(folder: Path) -> bool:
    return (folder / MANIFEST).is_file()


def _entry(path: Path, folder: Path, table: str, entry: object) -> FileEntry:
    """One manifest entry, checked: every key there, an integer row count, a sha256, and a plain file name of a
    regular file in this folder (never `../x`, an absolute path, or a symlink, which could point anywhere)."""
    where = f"{path}: entry {table!r}"
    if not isinstance(entry, dict):
        raise ManifestMismatch(f"{where} is not an object with keys {list(ENTRY_KEYS)}")
    missing = [key for key in ENTRY_KEYS if key not in entry]
    if missing:
        raise ManifestMismatch(f"{where} has no {', '.join(repr(k) for k in missing)}")
    rows, sha, name = entry["rows"], entry["sha256"], entry["file"]
    if isinstance(rows, bool) or not isinstance(rows, int) or rows < 0:
        raise ManifestMismatch(f"{where}: rows {rows!r} is not a non-negative integer")
    if not isinstance(sha, str) or not SHA256.fullmatch(sha):
        raise ManifestMismatch(f"{where}: sha256 {sha!r} is not 64 hex digits")
    if not isinstance(name, str) or not name or name in (".", "..") or any(c in name for c in "/\\\0"):
        raise ManifestMismatch(f"{where}: file {name!r} is not a file name in {folder} (no paths, no '..')")
    file = folder / name
    try:
        mode = file.lstat().st_mode
    except FileNotFoundError:
        mode = None  # reported with the checksums: listed in the manifest but not in the folder
    if mode is not None and stat.S_ISLNK(mode):
        raise ManifestMismatch(f"{where}: {file} is a symlink; landing files must be regular files in {folder}")
    if mode is not None and not stat.S_ISREG(mode):
        raise ManifestMismatch(f"{where}: {file} is not a regular file")
    return FileEntry(table, file, rows, sha.lower())


def read_manifest(folder: Path) -> Manifest:
    """Parse the manifest; every contract table must be listed (a table with no changes has a header-only file)."""
    path = folder / MANIFEST
    if not folder.is_dir():
        raise IncompleteBatch(f"landing folder {folder} does not exist: the source system has not delivered it")
    if not path.is_file():
        raise IncompleteBatch(f"{path} is missing: the delivery of {folder.name} is incomplete (manifest comes last)")
    if path.is_symlink():
        raise ManifestMismatch(f"{path} is a symlink; the manifest must be a regular file in {folder}")
    try:
        listed = json.loads(path.read_bytes().decode("utf-8"))["files"]
        if not isinstance(listed, dict):
            raise TypeError("'files' is not an object")
    except (ValueError, KeyError, TypeError) as exc:  # ValueError: bad JSON or not UTF-8
        raise ManifestMismatch(f"{path} is not a valid manifest: {exc}") from None
    missing = [t.name for t in contract.TABLES if t.name not in listed]
    unknown = sorted(set(listed) - set(contract.TABLES_BY_NAME))
    if missing or unknown:
        raise ManifestMismatch(f"{path}: tables missing from the manifest {missing}, not in the contract {unknown}")
    files = {name: _entry(path, folder, name, entry) for name, entry in listed.items()}
    return Manifest(folder, files)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def verify_files(manifest: Manifest, *, content: bool = True) -> None:
    """Every listed file exists, has the sha256 the manifest says and — with `content` — a readable content
    (`stage.inspect_file`, one read per file; files in parallel: hashing and inflating release the GIL), else
    nothing is loaded."""
    entries = list(manifest.files.values())
    present = [e for e in entries if e.path.is_file()]
    problems = [f"{e.path.name}: listed in the manifest but not in the folder" for e in entries if e not in present]
    scan = inspect_file if content else _sha256_only
    with ThreadPoolExecutor(max_workers=min(len(present), os.cpu_count() or 1) or 1) as pool:
        scans = list(pool.map(scan, [e.path for e in present]))
    unreadable = []
    for entry, result in zip(present, scans, strict=True):
        if result.sha256 != entry.sha256:
            problems.append(f"{entry.path.name}: sha256 {result.sha256[:12]}… but the manifest says "
                            f"{entry.sha256[:12]}…")
        elif result.problem:
            unreadable.append(result.problem)
    if problems:
        raise ManifestMismatch(f"{manifest.folder}: " + "; ".join(problems))
    if unreadable:
        raise UnreadableFile("; ".join(unreadable))


def _sha256_only(path: Path) -> FileScan:
    return FileScan(sha256_of(path), None)
