-- pii.churn_list_snapshots: the export's churn lists with the customers' raw contacts — the only relation the
-- pii_reader role can read, and only the churn export with SA_EXPORT_INCLUDE_PII=true connects as it.
{{ config(alias='churn_list_snapshots') }}

{{ churn_lists_with_contacts(masked=false) }}
