"""What the transform relies on in Cosmos still holds (`include.transform.cosmos_adapter`, A1–A12).

A Cosmos upgrade that changes one of them fails here, naming it, before the transform misbehaves in production."""

from __future__ import annotations

import pytest

from include.transform import cosmos_adapter


@pytest.mark.parametrize("name", list(cosmos_adapter.COSMOS_ASSUMPTIONS))
def test_cosmos_assumption_holds(name: str) -> None:
    problems = [p for p in cosmos_adapter.cosmos_assumption_problems() if p.startswith(name)]
    assert not problems, (f"Cosmos no longer meets assumption {problems[0]!r}: re-verify "
                          "include/transform/cosmos_adapter.py against the new Cosmos before upgrading")


def test_a_broken_assumption_is_reported_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    from cosmos.operators.watcher import DbtTestWatcherOperator

    monkeypatch.delattr(DbtTestWatcherOperator, "base_cmd")
    problems = cosmos_adapter.cosmos_assumption_problems()
    assert [p for p in problems if p.startswith("A5 ")] and not [p for p in problems if p.startswith("A1 ")]
