"""`sa mcp --http` for real: the CLI in its own process, a real MCP client over streamable HTTP on loopback; bound
beyond loopback it answers only requests carrying the bearer token."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from include.config import Settings
from tests.served import AS_OF

pytestmark = pytest.mark.integration
SA = os.path.join(os.path.dirname(sys.executable), "sa")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def http_server(settings: Settings, host: str, token: str | None = None) -> Iterator[str]:
    """`sa mcp --http` on a free port over `settings`' database; yields the loopback URL."""
    port = _free_port()
    env = {**os.environ, "WAREHOUSE_DB": settings.warehouse_db}
    if token:
        env["SA_MCP_TOKEN"] = token
    process = subprocess.Popen([SA, "mcp", "--http", "--host", host, "--port", str(port)], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"sa mcp --http did not start: {process.communicate(timeout=5)[1]}")
            time.sleep(0.2)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        process.terminate()
        process.wait(timeout=30)


def call(url: str, name: str, arguments: dict[str, Any], token: str | None = None) -> Any:
    async def main() -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else None
        async with httpx2.AsyncClient(headers=headers, timeout=30) as http, \
                Client(streamable_http_client(url, http_client=http)) as client:
            return await client.call_tool(name, arguments)

    return anyio.run(main)


def test_tools_answer_over_http_on_loopback(served: Settings) -> None:
    with http_server(served, "127.0.0.1") as url:
        result = call(url, "churn.summary", {})
        bad = call(url, "churn.at_risk_customers", {"segment": "Gold"})
        # the SDK's DNS-rebinding guard on loopback: a foreign Host header is refused
        foreign = httpx2.post(url, headers={"Host": "evil.example:80", "Content-Type": "application/json",
                                            "Accept": "application/json, text/event-stream"}, content=b"{}")
    assert not result.is_error and result.structured_content["marts"]["as_of_date"] == AS_OF
    assert {r["customer_segment"] for r in result.structured_content["at_risk_by_segment"]} == {
        "Standard", "Premium", "Business", "Student"}
    assert bad.is_error and "'Standard', 'Premium', 'Business' or 'Student'" in bad.content[0].text
    assert foreign.status_code in (400, 403, 421)


def test_beyond_loopback_every_request_needs_the_bearer_token(served: Settings) -> None:
    token = "t" * 43
    with http_server(served, "0.0.0.0", token=token) as url:
        ping = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
        body = b'{"jsonrpc": "2.0", "id": 1, "method": "tools/list"}'
        anonymous = httpx2.post(url, headers=ping, content=body)
        wrong = httpx2.post(url, headers={**ping, "Authorization": "Bearer " + "x" * 43}, content=body)
        answered = call(url, "pipeline.status", {"days": 1}, token=token)
    assert anonymous.status_code == wrong.status_code == 401
    assert "Bearer" in anonymous.headers.get("www-authenticate", "")
    assert not answered.is_error and len(answered.structured_content["nights"]) == 1
