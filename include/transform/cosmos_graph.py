"""Make Cosmos' detached dbt tests gate what is built after them.

With TestBehavior.BUILD each model task runs the model and its tests. A test with several parents (a
`relationships` test between two staging models, a singular test over a mart and a staging model) cannot run
inside either parent's build — the other parent may not exist yet — so Cosmos renders it as its own task after
both parents (`should_detach_multiple_parents_tests`). Cosmos leaves those tasks without downstream tasks, so a
failing one would not stop the marts. This wires each detached test upstream of every model task that consumes
one of its parents, so a failing dbt test always stops what depends on the data it tested.
"""

from __future__ import annotations

from typing import Any

TEST_SUFFIX = "_test"


def gate_downstream_on_detached_tests(dag: Any) -> list[tuple[str, str]]:
    """Add `test >> model` edges; returns the edges added (for the DAG's tests)."""
    added: list[tuple[str, str]] = []
    for test in [t for t in dag.tasks if t.task_id.endswith(TEST_SUFFIX)]:
        ancestors = {t.task_id for t in test.get_flat_relatives(upstream=True)}
        for parent_id in sorted(test.upstream_task_ids):
            for child_id in sorted(dag.get_task(parent_id).downstream_task_ids):
                if child_id.endswith(TEST_SUFFIX) or child_id in ancestors or child_id == test.task_id:
                    continue
                if child_id not in test.downstream_task_ids:
                    test >> dag.get_task(child_id)
                    added.append((test.task_id, child_id))
    return added
