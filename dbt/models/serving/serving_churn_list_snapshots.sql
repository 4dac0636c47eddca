-- serving.churn_list_snapshots: the export's churn lists (every as-of date kept) with masked contacts — what the
-- churn export reads as the reader. Built after pii.churn_list_snapshots, so that once this view's Asset is out
-- (the export is scheduled on it) both variants of the lists exist:
-- depends_on: {{ ref('pii_churn_list_snapshots') }}
{{ config(alias='churn_list_snapshots') }}

{{ churn_lists_with_contacts(masked=true) }}
