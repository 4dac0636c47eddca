"""The checks behind a failure — Great Expectations expectations and dbt tests — named with their table and column.

An alert that says "validate_batch failed" sends the on-call engineer to the logs; one that says
"expect_column_values_to_be_in_set on support_tickets.customer_id: 1 unexpected ('C99999999')" tells them what to
fix. Both sources are plain text the failing task already produced, so nothing here needs the warehouse:
- GX: the `ValidationFailed` message lists one failed expectation per line (`include.quality.validate`);
- dbt: Cosmos' `CosmosDbtRunError` (in-process dbt) lists `<node name>: <dbt message>` per failed node; a dbt
  subprocess (the transform's producer) only reports its exit code, so there the failed nodes come from the
  task's dbt results (`include.transform.dbt_callback.keep_dbt_results`). Either way the nodes are mapped to their model
  (relation), column and test type through `dbt/target/manifest.json`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from include.config import get_settings

# `- <expectation> on <table>[.<column>] [<suite>][: <detail>]` — the line format of ExpectationOutcome.describe().
_GX_LINE = re.compile(
    r"^- (?P<name>\S+) on (?P<table>[A-Za-z0-9_]+)(?:\.(?P<column>\S+))? \[(?P<suite>[^\]]+)\](?:: (?P<detail>.*))?$"
)
_DBT_PREFIXES = ("dbt invocation completed with errors:", "dbt invocation did not complete with unhandled error:")
_DBT_LINE = re.compile(r"^(?P<name>[A-Za-z0-9_.]+):(?:\s+(?P<detail>.*))?$")


@dataclass(frozen=True)
class FailedCheck:
    """One failed expectation or dbt test (or a dbt model that errored)."""

    kind: str  # "expectation", "dbt test", "dbt unit test" or "dbt model"
    name: str
    table: str | None
    column: str | None
    check_type: str | None = None  # e.g. not_null, accepted_range, expect_column_values_to_not_be_null
    detail: str | None = None

    @property
    def where(self) -> str:
        if self.table and self.column:
            return f"{self.table}.{self.column}"
        return self.table or "?"

    def describe(self) -> str:
        text = f"{self.kind} {self.name} on {self.where}"
        if self.check_type and self.check_type != self.name:
            text += f" ({self.check_type})"
        return text + (f": {self.detail}" if self.detail else "")


def from_validation_message(message: str) -> list[FailedCheck]:
    """The failed expectations listed in a `ValidationFailed` message."""
    checks = []
    for line in message.splitlines():
        match = _GX_LINE.match(line.strip())
        if match:
            checks.append(FailedCheck(
                kind="expectation", name=match["name"], table=match["table"], column=match["column"],
                check_type=match["suite"], detail=match["detail"]))
    return checks


@lru_cache(maxsize=4)
def _manifest_index(path: str, mtime: float) -> dict[str, dict[str, Any]]:
    """name → node for every model, data test and unit test of the manifest (cached per file version)."""
    manifest = json.loads(Path(path).read_text())
    index: dict[str, dict[str, Any]] = {}
    for node in manifest.get("nodes", {}).values():
        if node.get("resource_type") in ("model", "test", "seed", "snapshot"):
            index[node["name"]] = node
    for node in manifest.get("unit_tests", {}).values():
        index.setdefault(node["name"], node)
    index["__nodes__"] = manifest.get("nodes", {})
    return index


def manifest_index(manifest_path: Path) -> dict[str, dict[str, Any]]:
    if not manifest_path.exists():
        return {"__nodes__": {}}
    return _manifest_index(str(manifest_path), manifest_path.stat().st_mtime)


def _relation(node: dict[str, Any] | None) -> str | None:
    if not node:
        return None
    return f"{node.get('schema')}.{node.get('alias') or node.get('name')}" if node.get("schema") else node.get("name")


def _dbt_check(name: str, detail: str | None, index: dict[str, dict[str, Any]]) -> FailedCheck:
    nodes = index["__nodes__"]
    node = index.get(name)
    if node is None:
        return FailedCheck("dbt test", name, None, None, None, detail)
    kind = node.get("resource_type")
    if kind == "model":
        return FailedCheck("dbt model", name, _relation(node), None, "model", detail)
    if kind == "unit_test":
        model = next((n for n in nodes.values() if n.get("resource_type") == "model"
                      and n.get("name") == node.get("model")), None)
        return FailedCheck("dbt unit test", name, _relation(model) or node.get("model"), None, "unit test", detail)
    metadata = node.get("test_metadata") or {}
    parents = [nodes[p] for p in ([node["attached_node"]] if node.get("attached_node") else
                                  node.get("depends_on", {}).get("nodes", [])) if p in nodes]
    table = ", ".join(r for r in (_relation(p) for p in parents) if r) or None
    column = node.get("column_name") or (metadata.get("kwargs") or {}).get("column_name")
    check_type = metadata.get("name") or "singular test"
    if metadata.get("namespace"):
        check_type = f"{metadata['namespace']}.{check_type}"
    return FailedCheck("dbt test", name, table, column, check_type, detail)


def from_dbt_message(message: str, manifest_path: Path) -> list[FailedCheck]:
    """The failed dbt nodes named in a Cosmos `CosmosDbtRunError` message, mapped to table and column."""
    index = manifest_index(manifest_path)
    text = message.strip()
    for prefix in _DBT_PREFIXES:
        if text.startswith(prefix):
            text = text[len(prefix):].strip()
    checks: list[FailedCheck] = []
    for line in text.splitlines():
        match = _DBT_LINE.match(line.strip())
        # A multi-line dbt message (a database error) continues on lines that do not name a node: skip those
        # (without a manifest every `name: message` line counts).
        if match and (match["name"] in index or len(index) == 1):
            checks.append(_dbt_check(match["name"], (match["detail"] or "").strip() or None, index))
    return checks


def from_dbt_results(results: list[list[Any]], manifest_path: Path) -> list[FailedCheck]:
    """The failed/errored nodes of a dbt invocation's results as `keep_dbt_results` keeps them
    (`[unique_id, status, seconds, message]`), mapped to table and column."""
    index = manifest_index(manifest_path)
    checks = []
    for unique_id, status, *rest in results:
        if status not in ("fail", "error"):
            continue
        node = index["__nodes__"].get(unique_id)  # models and tests; a unit test's id ends with its name
        name = node["name"] if node else unique_id.rsplit(".", 1)[-1]
        message = rest[1] if len(rest) > 1 else None
        checks.append(_dbt_check(name, (str(message).strip() or None) if message else None, index))
    return checks


def default_manifest_path() -> Path:
    return get_settings().dbt_project_dir / "target" / "manifest.json"


def failed_checks(exception: BaseException | None, manifest_path: Path | None = None) -> list[FailedCheck]:
    """The checks behind `exception`: validation failures and dbt test failures; [] for anything else.

    Matched by class name as well as by type, so the check works where the class was pickled or re-raised."""
    if exception is None:
        return []
    names = {cls.__name__ for cls in type(exception).__mro__}
    message = str(exception)
    if "ValidationFailed" in names:
        return from_validation_message(message)
    if "CosmosDbtRunError" in names or message.startswith(_DBT_PREFIXES):
        return from_dbt_message(message, manifest_path or default_manifest_path())
    return []
