"""The committed GX project is exactly what `sa gx-setup` generates from the contract: no drift, no stray files.

`great_expectations/` is what GX runs and what a reviewer reads; `include/contract.py`, `include/quality/suites.py`
and `include/quality/project.py` are its one definition. Each check runs `ensure_project` — the code behind
`sa gx-setup` — on a copy of a project, with a warehouse address nothing listens on (a committed project needs no
database: creating a missing asset would, and then fails here), and reports every file it changed. `ensure_project`
keeps the ids of unchanged objects, so a changed file means a real difference.
"""

from __future__ import annotations

import dataclasses
import difflib
import itertools
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from include import contract
from include.config import Settings, get_settings
from include.quality import project, suites

COMMITTED = Path(__file__).resolve().parents[2] / "great_expectations"
NO_DATABASE = "postgresql://nobody@127.0.0.1:1/nowhere"
FIX = "run `sa gx-setup` and commit great_expectations/"
# Files of the project that are not GX objects; every other file must be a suite, validation definition or
# checkpoint the contract wants (`uncommitted/` is ignored by git and skipped here).
PROJECT_FILES = {"great_expectations.yml", ".gitignore", "expectations/.ge_store_backend_id"}
Drift = Callable[[Path], list[str]]


def _files(root: Path) -> dict[str, bytes]:
    return {path.relative_to(root).as_posix(): path.read_bytes() for path in root.rglob("*")
            if path.is_file() and path.relative_to(root).parts[0] != "uncommitted"}


def _describe(expectation: dict[str, Any]) -> str:
    kwargs = ", ".join(f"{key}={value!r}" for key, value in expectation["kwargs"].items())
    meta = f" meta={expectation['meta']!r}" if expectation.get("meta") else ""
    return f"{expectation['type']}({kwargs}){meta}"


def _suite_drift(committed: bytes, generated: bytes) -> list[str]:
    """Name each expectation the code does not want and each it wants but the file lacks (matched by id, which
    `ensure_project` keeps for unchanged expectations)."""
    before, after = json.loads(committed), json.loads(generated)
    where = f"suite {after['name']} (table {after['name'].split('.')[0]})"
    old = {e["id"]: e for e in before["expectations"]}
    new = {e["id"]: e for e in after["expectations"]}
    problems = [f"{where}: committed, not generated: {_describe(e)}" for i, e in old.items() if i not in new]
    problems += [f"{where}: generated, not committed: {_describe(e)}" for i, e in new.items() if i not in old]
    return problems or [f"{where}: expectations in another order than suites.py gives"]


def _file_drift(path: str, committed: bytes | None, generated: bytes | None) -> list[str]:
    if committed is None:
        return [f"{path}: missing (gx-setup creates it)"]
    if generated is None:
        return [f"{path}: deleted by gx-setup"]
    if path.startswith("expectations/"):
        return _suite_drift(committed, generated)
    diff = difflib.unified_diff(committed.decode().splitlines(), generated.decode().splitlines(), "committed",
                                "generated", lineterm="", n=1)
    return [f"{path}: differs from what gx-setup writes:\n    " + "\n    ".join(diff)]


def _stray_files(files: dict[str, bytes]) -> list[str]:
    """Files no contract table × scope accounts for: `sa gx-setup` never deletes, so they must go by hand."""
    wanted = set(PROJECT_FILES)  # GX's file stores keep suite `a.b` in expectations/a/b.json, the others in a.b.json
    for table in contract.TABLES:
        for scope in project.SCOPES:
            name = suites.suite_name(table.name, scope)
            wanted |= {f"expectations/{table.name}/{scope}.json", f"validation_definitions/{name}.json",
                       f"checkpoints/{project.checkpoint_name(table.name, scope)}.json"}
    return [f"{path}: stray (no contract table × scope wants it): delete it" for path in sorted(files.keys() - wanted)]


def _stray_gx_objects(context: Any) -> list[str]:
    """Assets and batch definitions of great_expectations.yml that no contract table × scope wants."""
    datasource = context.data_sources.get(project.DATASOURCE)
    tables = [t.name for t in contract.TABLES]
    problems = [f"great_expectations.yml: stray asset {a.name} (not a contract table): delete it"
                for a in datasource.assets if a.name not in tables]
    for asset in datasource.assets:
        problems += [f"great_expectations.yml: stray batch definition {asset.name}.{b.name}: delete it"
                     for b in asset.batch_definitions if b.name not in project.SCOPES]
    return problems


def project_drift(committed: Path, work: Path) -> list[str]:
    """Every difference between the project at `committed` and what `sa gx-setup` makes of it (run in `work`)."""
    shutil.copytree(committed, work / "great_expectations", ignore=shutil.ignore_patterns("uncommitted"))
    settings: Settings = dataclasses.replace(get_settings(), project_root=work, local_dir=work / "local",
                                             external_warehouse_url=NO_DATABASE)
    try:
        context = project.ensure_project(settings)
    except project.ProjectDrift as error:
        return [str(error)]
    except Exception as error:  # GX adds a missing asset only after querying its table
        return [f"sa gx-setup needs the warehouse here ({type(error).__name__}: {str(error).splitlines()[0]})"]
    before, after = _files(committed), _files(work / "great_expectations")
    problems = _stray_files(before) + _stray_gx_objects(context)
    for path in sorted(before.keys() | after.keys()):
        if before.get(path) != after.get(path):
            problems += _file_drift(path, before.get(path), after.get(path))
    return problems


@pytest.fixture
def drift(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Drift:
    """`project_drift` in a fresh folder; `open_context` sets the GX connection variable, restored afterwards."""
    monkeypatch.delenv(project.CONNECTION_VAR, raising=False)
    runs = itertools.count()
    return lambda committed: project_drift(committed, tmp_path / f"run{next(runs)}")


@pytest.fixture
def edited(tmp_path: Path) -> Path:
    """A copy of the committed project to edit by hand."""
    root = tmp_path / "edited" / "great_expectations"
    shutil.copytree(COMMITTED, root, ignore=shutil.ignore_patterns("uncommitted"))
    return root


def _edit_json(path: Path, change: Callable[[dict[str, Any]], None]) -> None:
    document = json.loads(path.read_text())
    change(document)
    path.write_text(json.dumps(document, indent=2))


def test_committed_project_is_what_gx_setup_generates(drift: Drift) -> None:
    problems = drift(COMMITTED)
    assert not problems, (f"great_expectations/ differs from what include/contract.py and include/quality/ generate"
                          f" — {FIX}:\n- " + "\n- ".join(problems))


def test_hand_edits_are_named(drift: Drift, edited: Path) -> None:
    """An expectation, a checkpoint and a validation definition edited by hand: gx-setup puts each back."""
    def widen_score(suite: dict[str, Any]) -> None:
        score = next(e for e in suite["expectations"] if e["kwargs"].get("column") == "satisfaction_score"
                     and e["type"] == "expect_column_values_to_be_between")
        score["kwargs"]["max_value"] = 9.0

    _edit_json(edited / "expectations" / "support_tickets" / "batch.json", widen_score)
    _edit_json(edited / "checkpoints" / "customers.table.json",
               lambda checkpoint: checkpoint["result_format"].update(result_format="BASIC"))
    other_suite = json.loads((edited / "validation_definitions" / "products.batch.json").read_text())["suite"]
    _edit_json(edited / "validation_definitions" / "products.table.json",
               lambda definition: definition.update(suite=other_suite))
    problems = drift(edited)
    assert [p for p in problems if p.startswith("suite ")] == [
        "suite support_tickets.batch (table support_tickets): committed, not generated: "
        "expect_column_values_to_be_between(column='satisfaction_score', max_value=9.0, min_value=1.0)",
        "suite support_tickets.batch (table support_tickets): generated, not committed: "
        "expect_column_values_to_be_between(column='satisfaction_score', max_value=5.0, min_value=1.0)",
    ]
    checkpoint, definition = [p for p in problems if not p.startswith("suite ")]
    assert checkpoint.startswith("checkpoints/customers.table.json: differs from what gx-setup writes:")
    assert '-    "result_format": "BASIC"' in checkpoint and '+    "result_format": "SUMMARY"' in checkpoint
    assert definition.startswith("validation_definitions/products.table.json: differs from what gx-setup writes:")
    assert '-    "name": "products.batch"' in definition and '+    "name": "products.table"' in definition


def test_new_contract_table_needs_the_warehouse(drift: Drift,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """GX adds an asset only after checking its table exists: the test says so instead of creating it."""
    refunds = dataclasses.replace(contract.table("ticket_categories"), name="refunds", primary_key="category_id")
    monkeypatch.setattr(contract, "TABLES", (*contract.TABLES, refunds))
    (problem,) = drift(COMMITTED)
    assert problem.startswith("sa gx-setup needs the warehouse here (TestConnectionError: ")
    assert "analytics.refunds" in problem


def test_hand_edited_asset_is_named(drift: Drift, edited: Path) -> None:
    config = edited / "great_expectations.yml"
    config.write_text(config.read_text().replace("table_name: products\n", "table_name: products_v2\n"))
    assert drift(edited) == ["GX asset 'products' reads analytics.products_v2, not analytics.products: correct it in"
                             " great_expectations.yml"]


def test_contract_change_is_named(drift: Drift, monkeypatch: pytest.MonkeyPatch) -> None:
    """A bound changed in the contract without `sa gx-setup`: the committed suite still holds the old one."""
    tickets = contract.table("support_tickets")
    columns = tuple(dataclasses.replace(c, max_value=10) if c.name == "satisfaction_score" else c
                    for c in tickets.columns)
    monkeypatch.setattr(contract, "TABLES", tuple(dataclasses.replace(t, columns=columns) if t is tickets else t
                                                  for t in contract.TABLES))
    assert drift(COMMITTED) == [
        "suite support_tickets.batch (table support_tickets): committed, not generated: "
        "expect_column_values_to_be_between(column='satisfaction_score', max_value=5.0, min_value=1.0)",
        "suite support_tickets.batch (table support_tickets): generated, not committed: "
        "expect_column_values_to_be_between(column='satisfaction_score', max_value=10.0, min_value=1.0)",
    ]


def test_missing_and_stray_files_are_named(drift: Drift, edited: Path) -> None:
    (edited / "checkpoints" / "products.batch.json").unlink()
    config = edited / "great_expectations.yml"  # one more batch definition after products' last one
    weekly = "          weekly:\n            id: 0a1b2c3d-0000-4000-8000-000000000001\n            partitioner:\n"
    products = "        table_name: products\n"
    config.write_text(config.read_text().replace(products, weekly + products, 1))
    shutil.copytree(edited / "expectations" / "products", edited / "expectations" / "refunds")
    _edit_json(edited / "expectations" / "refunds" / "table.json", lambda suite: suite.update(name="refunds.table"))
    (edited / "expectations" / "refunds" / "batch.json").unlink()
    problems = drift(edited)
    assert problems == [
        "expectations/refunds/table.json: stray (no contract table × scope wants it): delete it",
        "great_expectations.yml: stray batch definition products.weekly: delete it",
        "checkpoints/products.batch.json: missing (gx-setup creates it)",
    ]
