{#-
    The one place PII is masked: a keyed HMAC-SHA256 (RFC 2104) of the value, as lower-case hex.

    HMAC(K, m) = sha256((K xor opad) || sha256((K xor ipad) || m)). The bootstrap keeps the two padded keys in
    `private.masking_key` (include/warehouse/masking.py; the key is the secret `masking_key`, env SA_MASKING_KEY),
    which only the transformer can read. The views in `serving` that call this macro are owned by the transformer,
    so the reader gets the tokens through them but can neither read the key nor HMAC a value of its own choosing.

    The query must join the key's one row: `cross join {{ masking_key() }}`. A join, not scalar subqueries: with
    subqueries PostgreSQL cannot flatten the view into the reader's query, so the reader's `order by … limit` no
    longer reaches the mart's indexes (a top-20 by CLV read a million rows). A query that selects a masked column
    computes it for every row it keeps before a sort/limit: select the rows first, then their masked columns by key
    (include/kpi/queries.py does). No key row, no rows: it fails closed.

    Equal values give equal tokens (lists stay joinable across days and tables); NULL stays NULL. A new key (re-run
    the bootstrap with another SA_MASKING_KEY) changes every token at once: the views compute them when read.
    kind='email' keeps the shape of an address (`<token>@masked.invalid`), anything else is `masked-<token>`.
-#}
{% macro mask_pii(value, kind='text') -%}
    {{ masked_pii_from_digest(pii_digest(value), kind) }}
{%- endmacro %}

{#- The HMAC of a value as bytea (32 bytes): what int_customer_contact_tokens keeps per customer. -#}
{% macro pii_digest(value) -%}
    sha256(masking_key.outer_pad || sha256(masking_key.inner_pad || convert_to({{ value }}, 'UTF8')))
{%- endmacro %}

{#- The token mask_pii gives for a value, from the value's pii_digest. -#}
{% macro masked_pii_from_digest(digest, kind='text') -%}
    {%- if kind == 'email' -%}
        (encode({{ digest }}, 'hex') || '@masked.invalid')
    {%- elif kind == 'text' -%}
        ('masked-' || encode({{ digest }}, 'hex'))
    {%- else -%}
        {{ exceptions.raise_compiler_error("mask_pii: kind must be 'text' or 'email', got '" ~ kind ~ "'") }}
    {%- endif -%}
{%- endmacro %}

{#- The relation mask_pii reads the key from (created by the bootstrap, not by dbt). -#}
{% macro masking_key() -%}
    private.masking_key
{%- endmacro %}
