-- Each customer's contacts as masking tokens, kept: the HMAC (macro pii_digest, the one masking rule) of the name,
-- e-mail and phone of stg_customers, with the masking key's version (private.masking_key.updated_at) they were made
-- with. serving.churn_list_snapshots — what the churn export reads, every listed customer of a date (~0.5M at scale
-- 100) — formats these instead of hashing three contacts per row when read (6 SHA-256 a row: ~2 s of each list's 3 s
-- read); it hashes on the fly any customer whose tokens are missing or were made with another key, so a rotated key
-- is in force at once, before the next build.
--
-- Incremental, merged on customer_id: a build hashes the customers a load wrote since its last build (the load log's
-- committed sequence, macros/incremental_watermark.sql), and every customer when no stored row was made with the
-- current key (after a rotation). A full refresh gives the same rows. Not served (in `marts`, which the reader
-- cannot read); holds no raw contact.
{{
    config(
        materialized='incremental',
        unique_key='customer_id',
        incremental_strategy='merge',
        on_schema_change='fail',
        post_hook=[
            "{{ record_merged_load_seq() }}",
            "{{ ensure_index(['customer_id'], unique=true) }}",
        ],
    )
}}
-- depends_on: {{ source('audit', 'build_watermarks') }}
-- depends_on: {{ ref('stg_committed_loads') }}

select
    customers.customer_id::text as customer_id,
    {{ pii_digest('customers.customer_name') }}::bytea as customer_name_digest,
    {{ pii_digest('customers.email') }}::bytea as email_digest,
    {{ pii_digest('customers.phone') }}::bytea as phone_digest,
    masking_key.updated_at::timestamptz as masked_with

from {{ ref('stg_customers') }} as customers
cross join {{ masking_key() }}
{% if is_incremental() and execute %}
    {#- looked up when the model runs: as a condition beside the batch list it was a subquery per customer row -#}
    {%- set rotated = run_query("select not exists (select from " ~ this ~ " as stored join " ~ masking_key()
                                ~ " as k on stored.masked_with = k.updated_at)").columns[0].values()[0] %}
    {%- if not rotated %}
        where customers._batch_id = any({{ batches_loaded_since_last_build('customers') }})
    {%- endif %}
{% endif %}
