"""A dbt test over several models counts against the model(s) built last, as dbt runs it."""

from __future__ import annotations

from include.transform.test_attribution import ancestors, attribute_tests_to_last_built_models

PARENTS = {"a": [], "b": ["a"], "c": ["b"], "d": []}


def test_ancestors_follow_the_graph_transitively() -> None:
    assert ancestors("c", PARENTS) == {"a", "b"}
    assert ancestors("d", PARENTS) == set()
    assert ancestors("unknown", PARENTS) == set()


def test_a_test_over_a_model_and_its_descendant_counts_only_against_the_descendant() -> None:
    kept = attribute_tests_to_last_built_models({"a": ["t_ac", "t_ad", "t_a"], "c": ["t_ac"], "d": ["t_ad"]}, PARENTS)
    # t_ac covers a and c, c is built on a: only c waits for it; t_ad covers independent models: both keep it
    assert kept == {"a": ["t_ad", "t_a"], "c": ["t_ac"], "d": ["t_ad"]}
