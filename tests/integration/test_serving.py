"""The reader's world on a built warehouse (tests/served.py): the masked contacts are the keyed HMAC of the raw
values, stay the same across rebuilds and change with the key; the churn export writes its allow-list, masked as the
reader or raw only as the pii_reader, and a failed export leaves the previous one whole; serving.pipeline_status tells
the night without a raw value."""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
from dataclasses import replace
from pathlib import Path

import psycopg
import pyarrow.parquet as pq
import pytest

from include.config import Settings, masking_key
from include.export.churn import export_churn
from include.transform.runner import run_dbt
from include.warehouse import bootstrap
from include.warehouse.connect import connect
from tests.served import AS_OF, DAYS, FAILED_DAY

pytestmark = pytest.mark.integration

# The churn files' columns: the select list of dbt/models/marts/churn_list_snapshots.sql (without the list flags:
# the file name says the list) and the three contact columns. Nothing else may reach a file.
EXPORTED = ["customer_id", "customer_segment", "customer_city", "churn_risk_level", "churn_risk_score",
            "days_since_last_login", "active_products", "open_tickets", "unsatisfied_tickets_90d", "monthly_revenue",
            "estimated_clv", "is_churned_30d", "is_churned_90d", "as_of_date", "last_login_date",
            "customer_name", "email", "phone"]
CONTACTS = "select customer_id, customer_name, email, phone from {} order by customer_id"


def rows(settings: Settings, kind: str, sql: str) -> list[tuple]:
    with connect(kind, settings) as conn:  # type: ignore[arg-type]
        return conn.execute(sql).fetchall()


def token(key: bytes, value: str | None, kind: str = "text") -> str | None:
    if value is None:
        return None
    digest = hmac.new(key, value.encode(), hashlib.sha256).hexdigest()
    return f"{digest}@masked.invalid" if kind == "email" else f"masked-{digest}"


def expected_tokens(settings: Settings, key: bytes) -> list[tuple]:
    raw = rows(settings, "transformer", CONTACTS.format("marts.mart_churned_customers"))
    return [(cid, token(key, name), token(key, email, "email"), token(key, phone)) for cid, name, email, phone in raw]


def served_tokens(settings: Settings) -> list[tuple]:
    return rows(settings, "reader", CONTACTS.format("serving.mart_churned_customers"))


def listed_tokens(settings: Settings) -> set[tuple]:
    """The churn lists' customers with their masked contacts, as the reader reads them."""
    return set(rows(settings, "reader", "select distinct customer_id, customer_name, email, phone"
                    " from serving.churn_list_snapshots"))


def test_masked_contacts_are_the_keyed_hmac_of_the_raw_values(served: Settings) -> None:
    masked = served_tokens(served)
    assert len(masked) > 9_000
    assert masked == expected_tokens(served, masking_key(served))
    # equal values, equal tokens, wherever the reader meets them: the churn lists carry the same ones (formatted
    # from the digests int_customer_contact_tokens keeps, made with the current key)
    listed = listed_tokens(served)
    assert listed and listed <= set(masked)
    assert rows(served, "transformer", "select count(*) from marts.int_customer_contact_tokens t, private.masking_key k"
                " where t.masked_with is distinct from k.updated_at") == [(0,)]


def test_tokens_and_grants_survive_a_rebuild(served: Settings, tmp_path: Path) -> None:
    before = served_tokens(served)
    stamp = rows(served, "reader", "select dbt_invocation_id, as_of_date, built_at from serving.marts_build")
    result = run_dbt(["build", "--select", "mart_churned_customers+", "--vars", f"{{as_of_date: '{AS_OF}'}}"],
                     served, target_path=tmp_path / "target", log_path=tmp_path / "logs")
    assert result.success, result.summary()
    assert {"serving_mart_churned_customers", "serving_churn_list_snapshots", "serving_marts_build"} <= {
        n.name for n in result.nodes if n.resource_type == "model"}
    assert served_tokens(served) == before  # the view was dropped with the old table and re-made, grants and all
    after = rows(served, "reader", "select dbt_invocation_id, as_of_date, built_at from serving.marts_build")
    assert [r[1].isoformat() for r in after] == [r[1].isoformat() for r in stamp] == [AS_OF]
    assert after[0][0] != stamp[0][0] and after[0][2] > stamp[0][2]


def test_a_new_masking_key_changes_every_token_at_once(served: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    old = served_tokens(served)
    new_key = "n" * 48
    monkeypatch.setenv("SA_MASKING_KEY", new_key)
    try:
        assert bootstrap.bootstrap(served) == ["masking key in private.masking_key"]
        rotated = served_tokens(served)
        assert rotated == expected_tokens(served, new_key.encode())
        assert not {r[2] for r in rotated} & {r[2] for r in old}
        # the churn lists too, before any build (the tokens int_customer_contact_tokens keeps are the old key's)
        assert listed_tokens(served) <= set(rotated)
    finally:
        monkeypatch.delenv("SA_MASKING_KEY")
        bootstrap.bootstrap(served)
    assert served_tokens(served) == old


def _export(settings: Settings, root: Path, include_pii: bool) -> tuple[dict, list[dict[str, str]], bytes]:
    result = export_churn(AS_OF, replace(settings, export_root=str(root)), include_pii=include_pii)
    folder = root / AS_OF
    manifest = json.loads((folder / "manifest.json").read_text())
    payload = (folder / "churned_customers.csv").read_bytes()
    assert result.rows["churned_customers"] == manifest["files"]["churned_customers.csv"]["rows"] > 1_000
    assert pq.read_table(folder / "high_risk_customers.parquet").column_names == EXPORTED
    return manifest, list(csv.DictReader(io.StringIO(payload.decode()))), payload + (
        folder / "high_risk_customers.parquet").read_bytes()


def test_the_export_masks_contacts_and_writes_only_its_allow_list(served: Settings, tmp_path: Path) -> None:
    manifest, listed, payload = _export(served, tmp_path, include_pii=False)
    assert manifest["source"] == "serving.churn_list_snapshots" and manifest["pii_included"] is False
    assert list(listed[0]) == EXPORTED
    tokens = {r[0]: r[1:] for r in served_tokens(served)}
    assert all((r["customer_name"], r["email"], r["phone"] or None) == tokens[r["customer_id"]] for r in listed)
    raw = rows(served, "transformer", "select email, customer_name from marts.mart_churned_customers")
    assert not any(email.encode() in payload or name.encode() in payload for email, name in raw)


def test_only_the_pii_export_reads_raw_contacts_and_only_as_the_pii_reader(
        served: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    manifest, listed, _ = _export(served, tmp_path / "pii", include_pii=True)
    assert manifest["source"] == "pii.churn_list_snapshots" and manifest["pii_included"] is True
    assert list(listed[0]) == EXPORTED
    raw = {r[0]: r[1:] for r in rows(served, "transformer", CONTACTS.format("marts.mart_churned_customers"))}
    assert all((r["customer_name"], r["email"], r["phone"] or None) == raw[r["customer_id"]] for r in listed)

    # it connects as the pii_reader (a wrong password for it breaks the PII export and nothing else) …
    monkeypatch.setenv("SA_PII_READER_PASSWORD", "not-the-password")
    with pytest.raises(psycopg.OperationalError, match=f'"{served.roles.pii_reader}"'):
        export_churn(AS_OF, replace(served, export_root=str(tmp_path / "again")), include_pii=True)
    _export(served, tmp_path / "masked", include_pii=False)
    monkeypatch.delenv("SA_PII_READER_PASSWORD")
    # … the only role that can read the raw lists, and it can read nothing else
    for kind, relation in (("reader", "pii.churn_list_snapshots"), ("pii_reader", "serving.churn_list_snapshots"),
                           ("pii_reader", "marts.mart_churned_customers"), ("pii_reader", "audit.quarantine")):
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            rows(served, kind, f"select 1 from {relation} limit 1")


def test_a_failed_export_leaves_the_previous_export_whole_and_nothing_staged(
        served: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Failures injected where the export writes (a list's Parquet, the swap's second rename): the folder still holds
    the previous export, byte for byte, and no staging or set-aside folder is left behind."""
    import fsspec.implementations.local

    from include.export import churn

    _export(served, tmp_path, include_pii=False)
    previous = {p.name: p.read_bytes() for p in (tmp_path / AS_OF).iterdir()}
    written = churn._parquet_bytes
    calls: list[str] = []

    def second_list_fails(listed):  # type: ignore[no-untyped-def]
        calls.append("parquet")
        if len(calls) == 2:
            raise OSError("no space left on device")
        return written(listed)

    real_mv = fsspec.implementations.local.LocalFileSystem.mv

    def swap_fails(self, path1, path2, **kwargs):  # type: ignore[no-untyped-def]
        if ".staging-" in str(path1):
            raise OSError("rename refused")
        return real_mv(self, path1, path2, **kwargs)

    for target, name, failure in ((churn, "_parquet_bytes", second_list_fails),
                                  (fsspec.implementations.local.LocalFileSystem, "mv", swap_fails)):
        with monkeypatch.context() as patch:
            patch.setattr(target, name, failure)
            with pytest.raises(OSError):
                export_churn(AS_OF, replace(served, export_root=str(tmp_path)), include_pii=False)
        assert [p.name for p in tmp_path.iterdir()] == [AS_OF], name  # no .staging-* or .replaced-* folder
        assert {p.name: p.read_bytes() for p in (tmp_path / AS_OF).iterdir()} == previous, name
    assert calls == ["parquet", "parquet"]


def test_pipeline_status_tells_the_night_to_the_reader(served: Settings) -> None:
    status = {r[0]: r[1:] for r in rows(
        served, "reader", "select run_date, extract_state, transform_state, export_state, rows_landed,"
        " rows_quarantined, validations_failed, failed_tasks, failed_checks from serving.pipeline_status")}
    assert set(status) == set(DAYS)
    assert status[FAILED_DAY] == ("failed", "success", "success", 1001, 1, 1, "support_extract: validate_batch",
                                  "expect_column_values_to_match_regex on customers.email")
    assert status[DAYS[0]] == ("success", "success", "success", 1000, 0, 0, None, None)  # its early failure passed
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        rows(served, "reader", "select * from audit.run_summary_by_date")
