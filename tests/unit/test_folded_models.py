"""Which model task reports a folded model (include/transform/folded_models.py): the rule on small graphs."""

from __future__ import annotations

from include.transform.folded_models import Model, owners_of_folded_models

SERVED = ("serving", "pii")


def _models(**spec: tuple[str, str, tuple[str, ...]]) -> dict[str, Model]:
    return {uid: Model(schema, materialized, parents) for uid, (schema, materialized, parents) in spec.items()}


def test_a_view_is_reported_by_the_parent_built_last_and_a_view_over_a_view_by_the_same_task() -> None:
    models = _models(stg=("staging", "view", ()), mart=("marts", "table", ("stg",)),
                     lists=("marts", "incremental", ("mart",)), pii_lists=("pii", "view", ("lists", "mart")),
                     served_lists=("serving", "view", ("pii_lists", "lists", "mart")),
                     served_mart=("serving", "view", ("mart",)))
    assert owners_of_folded_models(models, tested=(), served_schemas=SERVED) == {
        "pii_lists": "lists", "served_lists": "lists", "served_mart": "mart"}


def test_a_view_keeps_its_own_task_when_it_has_tests_is_a_table_or_serves_two_independent_marts() -> None:
    models = _models(a=("marts", "table", ()), b=("marts", "table", ()), both=("serving", "view", ("a", "b")),
                     tested=("serving", "view", ("a",)), stamp=("serving", "table", ("a",)),
                     staging_view=("staging", "view", ("a",)))
    assert owners_of_folded_models(models, tested={"tested"}, served_schemas=SERVED) == {}


def test_an_untested_intermediate_model_is_reported_by_the_one_model_built_on_it_even_through_another() -> None:
    models = {"stg": Model("staging", "view", (), "staging"),
              "loads": Model("staging", "view", (), "staging"),
              "days": Model("marts", "incremental", ("stg", "loads"), "intermediate"),
              "totals": Model("marts", "incremental", ("days", "loads"), "intermediate"),
              "mart": Model("marts", "table", ("totals", "days"), "marts"),
              "tested_step": Model("marts", "table", ("stg",), "intermediate"),
              "shared_step": Model("marts", "table", ("stg",), "intermediate"),
              "mart_a": Model("marts", "table", ("shared_step", "tested_step"), "marts"),
              "mart_b": Model("marts", "table", ("shared_step",), "marts"),
              "unused_step": Model("marts", "table", ("stg",), "intermediate")}
    assert owners_of_folded_models(models, tested={"tested_step"}, served_schemas=SERVED) == {
        "days": "mart", "totals": "mart"}


def test_an_untested_intermediate_model_built_for_one_served_view_goes_where_the_view_goes() -> None:
    models = {"stg": Model("staging", "view", (), "staging"),
              "mart": Model("marts", "table", ("stg",), "marts"),
              "lists": Model("marts", "incremental", ("mart",), "marts"),
              "tokens": Model("marts", "incremental", ("stg",), "intermediate"),
              "served_lists": Model("serving", "view", ("lists", "tokens", "mart"), "serving"),
              "shared_tokens": Model("marts", "incremental", ("stg",), "intermediate"),
              "served_a": Model("serving", "view", ("mart", "shared_tokens"), "serving"),
              "served_b": Model("serving", "view", ("lists", "shared_tokens"), "serving")}
    assert owners_of_folded_models(models, tested={"mart", "lists"}, served_schemas=SERVED) == {
        "tokens": "lists", "served_lists": "lists"}
