"""The PII guards that need no database: the masking key's HMAC pads, secrets from env or the local store, the gate's
rules for PII columns, the redaction of database errors in alerts, and the retention setting."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from include import contract
from include.config import get_settings, masking_key, secret
from include.notify.redact import redact
from include.quality import suites
from include.warehouse.masking import MaskingKeyError, hmac_pads


@pytest.mark.parametrize("length", [32, 63, 64, 65, 200])
def test_the_pads_make_plain_sha256_an_hmac(length: int) -> None:
    """What the dbt macro computes from the stored pads is RFC 2104's HMAC-SHA256, for short and long keys."""
    key = bytes(i * 7 % 256 for i in range(length))
    inner, outer = hmac_pads(key)
    for value in ("jane.doe42@example.com", "", "Zoë Ω"):
        message = value.encode()
        macro = hashlib.sha256(outer + hashlib.sha256(inner + message).digest()).hexdigest()
        assert macro == hmac.new(key, message, hashlib.sha256).hexdigest()


def test_a_short_masking_key_is_refused_with_one_clear_error() -> None:
    with pytest.raises(MaskingKeyError, match=r"SA_MASKING_KEY\) must be at least 32 bytes; it has 5"):
        hmac_pads(b"short")


def test_secrets_come_from_the_environment_else_the_local_store(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("SA_LOCAL_DIR", str(tmp_path))
    monkeypatch.delenv("SA_MASKING_KEY", raising=False)
    settings = get_settings()
    generated = masking_key(settings)
    assert len(generated) == 64 and masking_key(settings) == generated  # generated once, then kept
    stored = json.loads((tmp_path / "secrets.json").read_text())
    assert stored["masking_key"].encode() == generated
    assert (tmp_path / "secrets.json").stat().st_mode & 0o777 == 0o600
    monkeypatch.setenv("SA_MASKING_KEY", "k" * 40)
    assert masking_key(settings) == b"k" * 40
    monkeypatch.setenv("SA_PII_READER_PASSWORD", "from-the-vault")
    assert secret("pii_reader_password", settings) == "from-the-vault"


@pytest.mark.parametrize("value", ["0", "-3", "thirty"])
def test_a_bad_retention_is_one_clear_error(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("SA_QUARANTINE_RETENTION_DAYS", value)
    with pytest.raises(ValueError, match=r"SA_QUARANTINE_RETENTION_DAYS=.*: expected a whole number ≥ 1"):
        get_settings()


def test_retention_defaults_to_30_days(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SA_QUARANTINE_RETENTION_DAYS", raising=False)
    assert get_settings().quarantine_retention_days == 30


def test_the_gate_reads_no_value_out_of_a_table_with_pii() -> None:
    for table in contract.TABLES:
        fmt = suites.result_format(table)
        assert fmt.get("exclude_unexpected_values", False) is bool(table.pii), table.name
    customers = contract.table("customers")
    regex = [e for e in suites.batch_expectations(customers) if e["type"] == "expect_column_values_to_match_regex"]
    assert regex == [{"type": "expect_column_values_to_match_regex",
                      "kwargs": {"column": "email", "regex": contract.EMAIL_PATTERN}}]


def test_an_aggregate_expectation_on_a_pii_column_is_refused() -> None:
    customers = contract.table("customers")
    aggregate = {"type": "expect_column_max_to_be_between", "kwargs": {"column": "email", "max_value": "z"}}
    with pytest.raises(ValueError, match=r"expect_column_max_to_be_between on customers.email: a PII column may only"):
        suites._check_pii_columns(customers, [aggregate])
    assert suites._check_pii_columns(contract.table("products"), [aggregate]) == [aggregate]  # no PII there


@pytest.mark.parametrize(("error", "kept", "gone"), [
    ('Database Error in model mart_churned_customers\n  null value in column "customer_id" violates not-null'
     ' constraint\n  DETAIL:  Failing row contains (null, Jane Doe, jane.doe42@example.com, +1-555-0100).',
     ['null value in column "customer_id"', "Failing row contains (values withheld)"], ["Jane", "jane.doe42"]),
    ('duplicate key value violates unique constraint "x_pkey"\nDETAIL:  Key (email)=(jane.doe42@example.com)'
     " already exists.", ["Key (email)=(values withheld) already exists"], ["jane.doe42"]),
    ('insert or update violates foreign key constraint "f"\nDETAIL:  Key (customer_id)=(C0001) is not present in'
     ' table "customers".', ["Key (customer_id)=(values withheld) is not present"], ["C0001"]),
    ('invalid input syntax for type integer: "Jane Doe"\nLINE 3: select ...', ['for type integer: "…"'],
     ["Jane"]),
])
def test_database_errors_lose_their_values_in_alerts(error: str, kept: list[str], gone: list[str]) -> None:
    text = redact(error) or ""
    assert all(k in text for k in kept), text
    assert not any(g in text for g in gone), text


def test_redact_leaves_ordinary_messages_alone() -> None:
    message = "accepted_range_stg_customer_products_monthly_revenue__0: Got 1 result, configured to fail if != 0"
    assert redact(message) == message and redact(None) is None
