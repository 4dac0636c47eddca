"""Which models get no task of their own in the transform grid, and which model task reports each (pure logic over
dbt's manifest, no Cosmos import).

Two kinds are folded into another model's task:
- the views in `serving` (masked, what the reader role sees) and `pii`: rebuilt on every build of the mart they
  select from (a rebuilt table drops its dependent views); a task per view would show the operator nothing the
  mart's task does not (the view is the mart, served);
- the untested models of `models/intermediate/` (steps towards a mart, not read by anyone else).
Each task costs a process on a CPU-bound machine. A folded model is reported by its owner's task, which waits for it
and publishes its Asset: a served view's owner is the model it selects from that is built last (a view over a mart
and the mart's staging parent is the mart's); an intermediate model's is the one model built on it (the mart it
feeds; through another intermediate model or a served view, that one's owner; a view does not count an intermediate
model built for it alone among its parents). A model keeps a task of its own when it has tests or when it has no
single owner (a view over two independent marts).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path

from include.transform.test_attribution import ancestors

INTERMEDIATE_FOLDER = "intermediate"


@dataclass(frozen=True)
class Model:
    schema: str
    materialized: str
    parents: tuple[str, ...]  # model ids only
    folder: str = ""  # the folder under models/ ("staging", "intermediate", "marts", …)


def models_from_manifest(manifest_path: Path) -> tuple[dict[str, Model], set[str]]:
    """The project's models (unique id → Model) and the ids of the models that have tests."""
    nodes = json.loads(manifest_path.read_text())["nodes"]
    models = {uid: Model(schema=str(n["config"].get("schema") or n.get("schema") or ""),
                         materialized=str(n["config"].get("materialized") or ""),
                         parents=tuple(p for p in n["depends_on"]["nodes"] if p.startswith("model.")),
                         folder=n["fqn"][1] if len(n["fqn"]) > 2 else "")
              for uid, n in nodes.items() if n["resource_type"] == "model"}
    tested = {p for n in nodes.values() if n["resource_type"] == "test" for p in n["depends_on"]["nodes"]}
    return models, tested


def owners_of_folded_models(models: Mapping[str, Model], tested: Collection[str],
                            served_schemas: Collection[str]) -> dict[str, str]:
    """folded model id → the id of the model whose task reports it: an untested view in `served_schemas` by the one
    parent built last (parents that are themselves folded count as their owner), an untested intermediate model by
    the one model built on it (children that are folded count as their owner). A model without such a single owner
    keeps its own task."""
    parents = {uid: m.parents for uid, m in models.items()}
    children: dict[str, list[str]] = {}
    for uid, model in models.items():
        for parent in model.parents:
            children.setdefault(parent, []).append(uid)
    owners: dict[str, str] = {}
    resolving: set[str] = set()

    def feeds_only(parent: str, child: str) -> bool:
        return (models[parent].folder == INTERMEDIATE_FOLDER and parent not in tested
                and children.get(parent) == [child])

    def owner_of(uid: str) -> str:
        if uid in owners:
            return owners[uid]
        model = models[uid]
        if uid in tested or uid in resolving:
            return uid
        resolving.add(uid)
        if model.schema in served_schemas and model.materialized == "view":
            # an untested intermediate model built for this view alone goes where the view goes
            candidates = {owner_of(p) for p in model.parents if not feeds_only(p, uid)}
            candidates = {c for c in candidates if not any(c in ancestors(o, parents) for o in candidates - {c})}
        elif model.folder == INTERMEDIATE_FOLDER:
            candidates = {owner_of(c) for c in children.get(uid, ())}
        else:
            candidates = set()
        resolving.discard(uid)
        if len(candidates) == 1 and uid not in candidates:
            owners[uid] = candidates.pop()
            return owners[uid]
        return uid

    for uid in models:
        owner_of(uid)
    return owners
