{#-
    The one place PII is masked: a keyed HMAC-SHA256 (RFC 2104) of the value, as lower-case hex.

    HMAC(K, m) = sha256((K xor opad) || sha256((K xor ipad) || m)). The bootstrap keeps the two padded keys in
    `private.masking_key` (include/warehouse/masking.py; the key is the secret `masking_key`, env SA_MASKING_KEY),
    which only the transformer can read. The views in `serving` that call this macro are owned by the transformer,
    so the reader gets the tokens through them but can neither read the key nor HMAC a value of its own choosing.

    The key is read by scalar subqueries (run once per query): a query that does not select a masked column pays
    nothing for it, where a join to the key would cost a pass over every row. A query that selects one computes it
    for every row it keeps before any sort/limit: select the rows by key first, then their masked columns
    (include/kpi/queries.py does). No key row, null tokens: it fails closed.

    Equal values give equal tokens (lists stay joinable across days and tables); NULL stays NULL. A new key (re-run
    the bootstrap with another SA_MASKING_KEY) changes every token at once: the views compute them when read.
    kind='email' keeps the shape of an address (`<token>@masked.invalid`), anything else is `masked-<token>`.
-#}
{% macro mask_pii(value, kind='text') -%}
    {%- set token -%}
        encode(sha256(
            (select masking_key.outer_pad from private.masking_key)
            || sha256((select masking_key.inner_pad from private.masking_key) || convert_to({{ value }}, 'UTF8'))
        ), 'hex')
    {%- endset -%}
    {%- if kind == 'email' -%}
        ({{ token }} || '@masked.invalid')
    {%- elif kind == 'text' -%}
        ('masked-' || {{ token }})
    {%- else -%}
        {{ exceptions.raise_compiler_error("mask_pii: kind must be 'text' or 'email', got '" ~ kind ~ "'") }}
    {%- endif -%}
{%- endmacro %}
