"""The masking key in the warehouse: the HMAC-SHA256 padded keys in `private.masking_key`, for the dbt macro.

PII is masked in one place, in SQL: the dbt macro `mask_pii` (dbt/macros/mask_pii.sql) computes
HMAC(K, m) = sha256((K xor opad) || sha256((K xor ipad) || m)) with PostgreSQL's `sha256(bytea)`. What it needs from
here is K prepared as RFC 2104 says (hashed when longer than the block, zero-padded to it) and xored with the two
pads — kept instead of K so that the SQL is two plain hashes. The table is readable by the transformer only (the
owner of the `serving` views that call the macro); the key itself is the secret `masking_key` (env
`SA_MASKING_KEY`, else generated into `.local/secrets.json`), read through `include.config.masking_key`.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from psycopg import sql

from include.config import SCHEMA_PRIVATE, Settings, masking_key

if TYPE_CHECKING:
    import psycopg

BLOCK_SIZE = 64  # SHA-256's block, in bytes
MIN_KEY_LENGTH = 32  # bytes: a shorter key is refused (the generated one has 64)
TABLE = "masking_key"


class MaskingKeyError(ValueError):
    """The configured masking key cannot be used (the message says why)."""


def hmac_pads(key: bytes) -> tuple[bytes, bytes]:
    """(K' xor ipad, K' xor opad) of RFC 2104, with K' = K (or sha256(K) when longer than 64 bytes) zero-padded."""
    if len(key) < MIN_KEY_LENGTH:
        raise MaskingKeyError(f"the masking key (SA_MASKING_KEY) must be at least {MIN_KEY_LENGTH} bytes; "
                              f"it has {len(key)}")
    if len(key) > BLOCK_SIZE:
        key = hashlib.sha256(key).digest()
    key = key.ljust(BLOCK_SIZE, b"\0")
    return bytes(b ^ 0x36 for b in key), bytes(b ^ 0x5C for b in key)


def install_masking_key(conn: psycopg.Connection, settings: Settings) -> bool:
    """Create `private.masking_key` and store the current key's pads; True when they were new or changed (the
    tokens the `serving` views compute change with them)."""
    inner, outer = hmac_pads(masking_key(settings))
    table = sql.Identifier(SCHEMA_PRIVATE, TABLE)
    conn.execute(sql.SQL(
        "create table if not exists {} (singleton boolean primary key default true check (singleton),"
        " inner_pad bytea not null, outer_pad bytea not null, updated_at timestamptz not null default now())"
    ).format(table))
    written = conn.execute(sql.SQL(
        "insert into {t} as k (inner_pad, outer_pad) values (%s, %s) on conflict (singleton) do update"
        " set inner_pad = excluded.inner_pad, outer_pad = excluded.outer_pad, updated_at = now()"
        " where (k.inner_pad, k.outer_pad) is distinct from (excluded.inner_pad, excluded.outer_pad)"
        " returning 1").format(t=table), (inner, outer)).fetchone()
    conn.execute(sql.SQL("analyze {}").format(table))  # one row: the planner must know it to keep the views cheap
    return written is not None
