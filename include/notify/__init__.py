"""Alerts: failure, recovery and late-run messages by e-mail (SMTP connection) and chat webhook (Slack-compatible).

`messages` builds the text from the Airflow context, `failed_checks` names the failed expectations / dbt tests,
`channels` sends, `callbacks` is what `default_args()` and the DAGs attach.
"""
