"""Which model task reports each served view (pure logic over dbt's manifest, no Cosmos import).

The views in `serving` (masked, what the reader role sees) and `pii` are rebuilt on every build of the mart they
select from — a rebuilt table drops its dependent views. A task of their own per view would buy the operator
nothing (the view is the mart, served) and cost a task process each on a CPU-bound machine, so each is reported by
its owner's task: the model it selects from that is built last (a view over a mart and the mart's staging parent is
the mart's). A view is kept as a task of its own when it has tests or when no single model is built last among its
parents (two independent marts).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path

from include.transform.test_attribution import ancestors


@dataclass(frozen=True)
class Model:
    schema: str
    materialized: str
    parents: tuple[str, ...]  # model ids only


def models_from_manifest(manifest_path: Path) -> tuple[dict[str, Model], set[str]]:
    """The project's models (unique id → Model) and the ids of the models that have tests."""
    nodes = json.loads(manifest_path.read_text())["nodes"]
    models = {uid: Model(schema=str(n["config"].get("schema") or n.get("schema") or ""),
                         materialized=str(n["config"].get("materialized") or ""),
                         parents=tuple(p for p in n["depends_on"]["nodes"] if p.startswith("model.")))
              for uid, n in nodes.items() if n["resource_type"] == "model"}
    tested = {p for n in nodes.values() if n["resource_type"] == "test" for p in n["depends_on"]["nodes"]}
    return models, tested


def owners_of_served_views(models: Mapping[str, Model], tested: Collection[str],
                           served_schemas: Collection[str]) -> dict[str, str]:
    """view id → the id of the model whose task reports it, for every untested view in `served_schemas` that has
    exactly one parent built last (parents that are themselves folded count as their owner)."""
    parents = {uid: m.parents for uid, m in models.items()}
    owners: dict[str, str] = {}

    def owner_of(uid: str) -> str:
        if uid in owners:
            return owners[uid]
        model = models[uid]
        if model.schema not in served_schemas or model.materialized != "view" or uid in tested:
            return uid
        candidates = {owner_of(p) for p in model.parents}
        last = {c for c in candidates if not any(c in ancestors(o, parents) for o in candidates - {c})}
        if len(last) != 1:
            return uid
        owners[uid] = last.pop()
        return owners[uid]

    for uid in models:
        owner_of(uid)
    return owners
