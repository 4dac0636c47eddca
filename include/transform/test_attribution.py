"""Which model a dbt test reports against when it covers several models (pure logic, no Cosmos import).

dbt runs a test over a mart and a staging model after the later of the two was built, and skips everything built on
a model whose test failed. The transform's model tasks must agree: a test counts only against the model(s) built
last among those it covers, so a failed mart does not also turn the staging model (and its other consumers) red.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping


def ancestors(unique_id: str, parents: Mapping[str, Iterable[str]]) -> set[str]:
    """Every node `unique_id` depends on, directly or not."""
    seen: set[str] = set()
    todo = [unique_id]
    while todo:
        for parent in parents.get(todo.pop(), ()):
            if parent not in seen:
                seen.add(parent)
                todo.append(parent)
    return seen


def attribute_tests_to_last_built_models(tests_per_model: Mapping[str, list[str]],
                                         parents: Mapping[str, Iterable[str]]) -> dict[str, list[str]]:
    """Drop a test from a model when the test also covers a model built on top of it.

    `tests_per_model`: model id → ids of the tests that cover it; `parents`: node id → ids it depends on."""
    models_per_test: dict[str, set[str]] = {}
    for model, tests in tests_per_model.items():
        for test in tests:
            models_per_test.setdefault(test, set()).add(model)
    return {model: [t for t in tests if not any(model in ancestors(other, parents)
                                                 for other in models_per_test[t] - {model})]
            for model, tests in tests_per_model.items()}
