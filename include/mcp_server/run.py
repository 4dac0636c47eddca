"""`sa mcp`: the MCP server over stdio (an MCP client starts it as a subprocess) or streamable HTTP.

Over HTTP it listens on 127.0.0.1 by default, where the SDK also refuses requests whose Host/Origin header is not
loopback (DNS rebinding). Bound to any other address it requires `Authorization: Bearer <token>` on every request:
the token is the secret `mcp_token` (env `SA_MCP_TOKEN`, else generated into `.local/secrets.json`), compared in
constant time.
"""

from __future__ import annotations

import hmac
import ipaddress
import sys

from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings

from include.config import Settings, mcp_token
from include.mcp_server.server import build_server

PATH = "/mcp"


class StaticToken:
    """A `TokenVerifier` accepting exactly one bearer token (the MCP SDK's auth middleware calls it)."""

    def __init__(self, token: str) -> None:
        self._token = token.encode()

    async def verify_token(self, token: str) -> AccessToken | None:
        if hmac.compare_digest(token.encode(), self._token):
            return AccessToken(token="<static>", client_id="sa-mcp-client", scopes=[])
        return None


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def serve_stdio(settings: Settings) -> None:
    build_server(settings).run("stdio")


def serve_http(settings: Settings, host: str | None = None, port: int | None = None) -> None:
    host = host or settings.mcp_host
    port = port or settings.mcp_port
    if is_loopback(host):
        server = build_server(settings)
        print(f"MCP server on http://{host}:{port}{PATH} (loopback only, no token)", file=sys.stderr)
    else:
        auth = AuthSettings(issuer_url=f"http://{host}:{port}", resource_server_url=None)
        server = build_server(settings, token_verifier=StaticToken(mcp_token(settings)), auth=auth)
        print(f"MCP server on http://{host}:{port}{PATH}; every request needs 'Authorization: Bearer <token>' "
              f"(SA_MCP_TOKEN, else mcp_token in {settings.secrets_file})", file=sys.stderr)
    # Plain JSON responses: every tool answers at once, an SSE stream per call would only add overhead.
    server.run("streamable-http", host=host, port=port, streamable_http_path=PATH, json_response=True)
