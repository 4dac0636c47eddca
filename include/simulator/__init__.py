"""Deterministic simulator of a fintech's operational source systems (CRM, product ledger, helpdesk, auth log).

`generate(out, ...)` writes the landing zone the extract reads -- a `history/` folder and one folder per day,
seven gzipped CSV files each plus a `_manifest.json` written last (see `generator.py` for the layout and
`defects.py` for the faults it can inject on request). Same seed, scale and dates give byte-identical files;
a day's files do not depend on how far the run goes, nor does the history.

CLI: `python -m include.simulator --out <root> [--seed 42] [--scale 1.0] [--history-start 2025-01-01]
[--start 2025-11-01] [--end 2025-11-07] [--defect NAME[:TABLE[:DATE]] ...]`.
"""

from __future__ import annotations

from .defects import DEFECTS, DefectNotApplicable, DefectReport, DefectSpec
from .generator import FolderReport, GenerationReport, generate
from .manifest import MANIFEST
from .schema import TABLE_NAMES, TABLES

__all__ = [
    "DEFECTS",
    "MANIFEST",
    "TABLES",
    "TABLE_NAMES",
    "DefectNotApplicable",
    "DefectReport",
    "DefectSpec",
    "FolderReport",
    "GenerationReport",
    "generate",
]
