"""Alert receivers for the tests: an SMTP server (aiosmtpd) and a webhook (stdlib HTTP), both on 127.0.0.1."""

from __future__ import annotations

import email
import email.policy
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

RECIPIENTS = ["oncall@example.com", "data-eng@example.com"]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Receivers:
    """An SMTP server (aiosmtpd) and a webhook (stdlib HTTP server), both on 127.0.0.1, keeping what they get."""

    mails: list[tuple[list[str], email.message.EmailMessage]] = field(default_factory=list)
    posts: list[dict[str, Any]] = field(default_factory=list)
    smtp_port: int = 0
    http_port: int = 0

    def start(self) -> None:
        from aiosmtpd.controller import Controller

        receivers = self

        class Mailbox:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                message = email.message_from_bytes(envelope.content, policy=email.policy.default)
                receivers.mails.append((list(envelope.rcpt_tos), message))  # type: ignore[arg-type]
                return "250 OK"

        class Hook(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receivers.posts.append({"path": self.path, "content_type": self.headers["Content-Type"],
                                        "json": json.loads(body)})
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.smtp_port = _free_port()
        self._smtp = Controller(Mailbox(), hostname="127.0.0.1", port=self.smtp_port)
        self._smtp.start()
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
        self.http_port = self._http.server_address[1]
        threading.Thread(target=self._http.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self._smtp.stop()
        self._http.shutdown()

    def env(self) -> dict[str, str]:
        """The configuration an operator would set: recipients, the SMTP connection, the webhook URL."""
        return {
            "SA_ALERT_EMAILS": ", ".join(RECIPIENTS),
            "AIRFLOW_CONN_SMTP_DEFAULT": json.dumps({
                "conn_type": "smtp", "host": "127.0.0.1", "port": self.smtp_port,
                "extra": {"disable_tls": True, "disable_ssl": True, "from_email": "airflow@support-analytics.test"}}),
            "SA_ALERT_WEBHOOK_URL": f"http://127.0.0.1:{self.http_port}/hooks/support-analytics",
        }

    def clear(self) -> None:
        self.mails.clear()
        self.posts.clear()

    def wait(self, mails: int, posts: int, timeout_s: float = 10) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and (len(self.mails) < mails or len(self.posts) < posts):
            time.sleep(0.1)

    def html(self, index: int = 0) -> str:
        return self.mails[index][1].get_body(("html",)).get_content()  # type: ignore[union-attr]
