"""The `_manifest.json` that closes a landing folder.

The manifest is written last and atomically (temp name, then rename), so its presence means every file it lists
is complete: a folder without a manifest is still being written, or its delivery failed, and must not be read.
Re-generating into an existing folder first removes the old manifest for the same reason.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from .writer import WrittenFile

MANIFEST = "_manifest.json"
GENERATED_BY = "include.simulator"


def withdraw(folder: Path) -> None:
    """Mark a folder incomplete before (re)writing any of its files."""
    (folder / MANIFEST).unlink(missing_ok=True)


def entry(written: WrittenFile) -> dict[str, object]:
    return {
        "file": written.path.name,
        "rows": written.rows,
        "sha256": written.sha256,
        "columns": list(written.columns),
    }


def write_manifest(
    folder: Path, logical_date: str, seed: int, scale: float, files: dict[str, dict[str, object]]
) -> Path:
    body = {
        "logical_date": logical_date,
        "generated_by": GENERATED_BY,
        "seed": seed,
        "scale": scale,
        "files": files,
    }
    text = json.dumps(body, sort_keys=True, indent=2) + "\n"
    tmp = folder / f".{MANIFEST}.tmp"
    tmp.write_text(text, encoding="utf-8")
    final = folder / MANIFEST
    os.replace(tmp, final)
    return final
