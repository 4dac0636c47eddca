"""The bad-input corpus (tests/hostile.py) through the extract DAG (`dag.test()`), one run per variant.

The warehouse holds the history and the clean day; each variant re-lands that day from a damaged copy. Refused: the
named task fails on its first try (no retries), its one-line message names the file and the reason, no raw library
exception reaches the log, and every analytics table is unchanged (rows and content). Landed: the run succeeds and
the tables hold what the clean day lands. Quarantined (from the history alone, so that the gate's row count of the
batch holds): the run succeeds, the long row (or the row that breaks a contract rule) is in audit.quarantine with a
reason that names the column and the check, never a PII value.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

import pendulum
import pytest
from airflow.sdk.exceptions import ParamValidationError

from include.config import get_settings
from include.warehouse.connect import connect
from tests.airflow_helpers import load_dag, task_states
from tests.hostile import CORPUS, DAY, Variant, damaged_root

pytestmark = pytest.mark.e2e

LOGICAL_DATE = pendulum.datetime(2025, 11, 1, 2, tz="UTC")
# Near-twins of a variant run here (a dag.test run costs ~3 s, one that lands ~5 s: the gate runs):
# tests/integration/test_hostile_input.py runs them. (columns_reordered, utf8_bom and unknown_extra_column:
# bom_reordered_and_extra has a BOM, reordered columns and an extra one, and lands through the DAG.)
FUNCTION_LEVEL_ONLY = {"utf8_bom", "unknown_extra_column", "columns_reordered", "lf_line_ends", "gzip_in_two_members",
                       "zip_not_gzip", "utf16_file", "ticket_id_too_long", "pii_email_too_long",
                       "manifest_rows_negative", "manifest_entry_without_sha256", "manifest_entry_without_file",
                       "manifest_rows_a_fraction", "rule_satisfaction_out_of_range", "rule_negative_resolution_hours",
                       "rule_resolved_before_created", "rule_timestamp_in_the_future", "rule_pii_email_over_threshold",
                       "rule_resolution_hours_nan"}
THROUGH_THE_DAG = [v for v in CORPUS if v.id not in FUNCTION_LEVEL_ONLY]
MIN_THROUGH_THE_DAG = 25  # issue 14: at least 25 variants through the extract DAG
RAW_ERRORS = ("UnicodeDecodeError", "EOFError", "BadGzipFile", "zlib.error", "JSONDecodeError", "KeyError",
              "CharacterNotInRepertoire", "UntranslatableCharacter")


def counts_and_content(settings) -> dict[str, str]:  # type: ignore[no-untyped-def]
    from tests.integration.test_hostile_input import checksums

    return checksums(settings)


@pytest.fixture(scope="module")
def clean_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from include.simulator import generate

    root = tmp_path_factory.mktemp("clean") / "landing"
    generate(root, scale=0.1, start=date(2025, 11, 1), end=date(2025, 11, 1))
    return root


def land(clean_root: Path, *batches: str, truncate: bool = False) -> dict[str, str]:
    from include.ingest.batch import load_batch
    from tests.conftest import truncate_warehouse

    settings = replace(get_settings(), landing_root=clean_root)
    if truncate:
        truncate_warehouse(settings)
    for batch in batches:
        load_batch(batch, settings)
    return counts_and_content(settings)


@pytest.fixture(scope="module")
def base(airflow_db, clean_root: Path) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """The tables once the history and the clean day have landed."""
    return land(clean_root, "history", DAY, truncate=True)


@pytest.fixture(scope="module")
def dag():  # type: ignore[no-untyped-def]
    return load_dag("support_extract")


def test_the_corpus_through_the_dag_keeps_its_size_and_names_only_known_variants() -> None:
    assert not FUNCTION_LEVEL_ONLY - {v.id for v in CORPUS}, "not in the corpus"
    assert len(THROUGH_THE_DAG) >= MIN_THROUGH_THE_DAG, [v.id for v in THROUGH_THE_DAG]
    assert {v.outcome for v in THROUGH_THE_DAG} == {"landed", "quarantined", "refused"}


@pytest.mark.parametrize("variant", THROUGH_THE_DAG, ids=lambda v: v.id)
def test_variant_through_the_extract_dag(variant: Variant, dag, base: dict[str, str], clean_root: Path,  # type: ignore[no-untyped-def]
                                         tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd) -> None:
    monkeypatch.setenv("SA_LANDING_ROOT", str(damaged_root(clean_root, variant, tmp_path)))
    for name, value in variant.env.items():
        monkeypatch.setenv(name, value)
    settings = get_settings()
    if variant.outcome == "quarantined":
        land(clean_root, "history", truncate=True)
    with connect("admin", settings) as conn:
        conn.execute("delete from audit.quarantine")
    before = counts_and_content(settings)
    capfd.readouterr()
    if variant.conf:  # the typed trigger form refuses it before a run exists (resolve_batch would refuse it too)
        with pytest.raises(ParamValidationError) as refused:
            dag.test(run_conf=variant.conf)
        assert all(word in str(refused.value).splitlines()[0] for word in variant.words), str(refused.value)
        assert counts_and_content(settings) == before
        return
    run = dag.test(logical_date=LOGICAL_DATE)
    output = capfd.readouterr()
    log = output.out + output.err
    states = task_states(run)
    after = counts_and_content(settings)

    if variant.outcome == "refused":
        assert run.state == "failed" and states[variant.task] == "failed", states
        tries = {ti.task_id: ti.try_number for ti in run.get_task_instances()}
        assert tries[variant.task] == 1, "refused input fails at once, without retries"
        lines = [line for line in log.splitlines() if "AirflowFailException: " in line and variant.words[0] in line]
        assert lines, log[-3000:]
        for word in variant.words:
            assert word in lines[0], (word, lines[0])
        for word in variant.absent:
            assert word not in log
        assert not [name for name in RAW_ERRORS if name in log], log[-3000:]
        assert after == before, "a refused variant changes no analytics table"
        return

    assert run.state == "success", states
    with connect("admin", settings) as conn:
        reasons = [r[0] for r in conn.execute("select reason from audit.quarantine where batch_id = %s", (DAY,))]
        notes = [r[0] for r in conn.execute("select message from audit.load_batches where batch_id = %s"
                                            " and status = 'success' and message is not null", (DAY,))]
    assert len(reasons) == variant.quarantined, reasons
    for word in variant.words:
        assert any(word in text for text in reasons + notes), (word, reasons, notes)
        assert variant.outcome != "landed" or word in log, "the task log names the ignored column"
    for word in variant.absent:
        assert not any(word in reason for reason in reasons)
    if variant.outcome == "landed" and variant.id != "multibyte_utf8_text":
        assert after == base, "the rows of the clean file"
        return
    assert variant.quarantined or after != base  # the changed subject landed
    assert land(clean_root, DAY) == base  # back to the clean day for the next variant
