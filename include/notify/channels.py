"""The two alert channels: e-mail through the smtp provider (an Airflow connection) and a Slack-compatible webhook.

A channel is on only when configured (`SA_ALERT_EMAILS`, `SA_ALERT_WEBHOOK_URL` / `SA_ALERT_WEBHOOK_CONN_ID`, see
`include.config`). Sending never raises: an alert that cannot be delivered is logged, and the task's own error —
the thing the engineer needs — stays what Airflow records.
"""

from __future__ import annotations

import json
import logging
import urllib.request

from include.config import Settings, get_settings
from include.notify.messages import Alert, as_html, as_slack

log = logging.getLogger(__name__)

WEBHOOK_TIMEOUT_S = 10


def send_email(alert: Alert, settings: Settings) -> None:
    """HTML e-mail to `SA_ALERT_EMAILS` through the connection `SA_ALERT_SMTP_CONN_ID` (default `smtp_default`)."""
    from airflow.providers.smtp.hooks.smtp import SmtpHook

    with SmtpHook(smtp_conn_id=settings.alert_smtp_conn_id) as hook:
        hook.send_email_smtp(
            to=list(settings.alert_emails), subject=alert.subject, html_content=as_html(alert),
            custom_headers={"X-Support-Analytics-Alert": alert.kind})


def webhook_url(settings: Settings) -> str:
    """`SA_ALERT_WEBHOOK_URL`, else the URL held by the Airflow connection `SA_ALERT_WEBHOOK_CONN_ID`: its password
    (as the Slack provider's `slackwebhook` connections keep it), else its host."""
    if settings.alert_webhook_url:
        return settings.alert_webhook_url
    from airflow.sdk import BaseHook

    conn = BaseHook.get_connection(str(settings.alert_webhook_conn_id))
    for candidate in (conn.password, conn.host, conn.extra_dejson.get("webhook_url")):
        if candidate and str(candidate).startswith(("http://", "https://")):
            return str(candidate)
    raise ValueError(f"connection {settings.alert_webhook_conn_id!r} holds no http(s) URL in password or host")


def send_webhook(alert: Alert, settings: Settings) -> None:
    request = urllib.request.Request(
        webhook_url(settings), data=json.dumps(as_slack(alert)).encode(),
        headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, timeout=WEBHOOK_TIMEOUT_S) as response:
        if not 200 <= response.status < 300:
            raise RuntimeError(f"webhook answered HTTP {response.status}")


def deliver(alert: Alert, settings: Settings | None = None) -> dict[str, str]:
    """Send `alert` on every configured channel; returns {channel: "sent" | "failed: …"} ({} when all are off)."""
    settings = settings or get_settings()
    outcome: dict[str, str] = {}
    channels = []
    if settings.email_alerts_on:
        channels.append(("email", send_email))
    if settings.webhook_alerts_on:
        channels.append(("webhook", send_webhook))
    for name, send in channels:
        try:
            send(alert, settings)
            outcome[name] = "sent"
        except Exception as exc:  # an undeliverable alert must not mask the failure it reports
            log.warning("support-analytics %s alert not delivered by %s: %s: %s", alert.kind, name,
                        type(exc).__name__, exc)
            outcome[name] = f"failed: {type(exc).__name__}: {exc}"
    if outcome:
        log.info("support-analytics %s alert: %s", alert.kind, outcome)
    return outcome
