"""Reading and verifying a landing folder's `_manifest.json` (written last by the source system)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from include import contract
from include.ingest.errors import IncompleteBatch, ManifestMismatch

MANIFEST = "_manifest.json"


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


def is_complete(folder: Path) -> bool:
    return (folder / MANIFEST).is_file()


def read_manifest(folder: Path) -> Manifest:
    """Parse the manifest; every contract table must be listed (a table with no changes has a header-only file)."""
    path = folder / MANIFEST
    if not folder.is_dir():
        raise IncompleteBatch(f"landing folder {folder} does not exist: the source system has not delivered it")
    if not path.is_file():
        raise IncompleteBatch(f"{path} is missing: the delivery of {folder.name} is incomplete (manifest comes last)")
    try:
        raw = json.loads(path.read_text())
        listed = raw["files"]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise ManifestMismatch(f"{path} is not a valid manifest: {exc}") from exc
    missing = [t.name for t in contract.TABLES if t.name not in listed]
    unknown = sorted(set(listed) - set(contract.TABLES_BY_NAME))
    if missing or unknown:
        raise ManifestMismatch(f"{path}: tables missing from the manifest {missing}, not in the contract {unknown}")
    files = {
        name: FileEntry(name, folder / entry["file"], int(entry["rows"]), str(entry["sha256"]))
        for name, entry in listed.items()
    }
    return Manifest(folder, files)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def verify_checksums(manifest: Manifest) -> None:
    """Every listed file exists and has the sha256 the manifest says, else nothing of the batch is loaded."""
    problems = []
    for entry in manifest.files.values():
        if not entry.path.is_file():
            problems.append(f"{entry.path.name}: listed in the manifest but not in the folder")
            continue
        actual = sha256_of(entry.path)
        if actual != entry.sha256:
            problems.append(f"{entry.path.name}: sha256 {actual[:12]}… but the manifest says {entry.sha256[:12]}…")
    if problems:
        raise ManifestMismatch(f"{manifest.folder}: " + "; ".join(problems))
