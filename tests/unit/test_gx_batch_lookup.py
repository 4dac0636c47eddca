"""What include/quality/batch_lookup.py relies on in the installed Great Expectations (G1–G3), and that installing
it twice wraps GX's lookup once."""

from __future__ import annotations

from include.quality import batch_lookup


def test_the_gx_internals_it_replaces_are_as_assumed() -> None:
    assert batch_lookup.assumptions_hold()


def test_install_is_idempotent_and_keeps_gx_lookup_one_level_down() -> None:
    from great_expectations.datasource.fluent import sql_datasource as gx_sql

    batch_lookup.install()
    installed = gx_sql._SQLAsset._fully_specified_batch_requests
    batch_lookup.install()
    assert gx_sql._SQLAsset._fully_specified_batch_requests is installed
    assert not hasattr(installed.__wrapped__, "__wrapped__")
    assert batch_lookup.assumptions_hold()
