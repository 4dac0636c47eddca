"""Latency of each MCP tool over streamable HTTP (`sa mcp --http` on loopback), serial and with 20 concurrent clients.

Targets (issue 17): at scale 1, p95 < 50 ms per call for one client; with 20 concurrent clients no error and
p95 < 150 ms. The same is measured at scale 100 (~1M customers, ~1.6M tickets).

Per scale: a throwaway embedded warehouse (bench/_warehouse.py), the simulator's history + 2025-11-01..03 landed by
the extract, one `dbt build` as of 2025-11-03, then the server in its own process as it runs in production
(`sa mcp --http`) and the clients in this one. Each client opens an MCP session (initialize, initialized) and calls
the tools over it with plain JSON-RPC over HTTP (httpx): what is timed is the server and the transport — request,
validation, SQL, JSON answer — not a client library. The Python SDK's own client (`mcp.Client`) adds 10-15 ms per
call on this machine (transport, validating every result against the output schema); it is timed too, serially,
as "SDK client". The first round of calls of each session is warm-up, not timed. Every answer is checked: an error
result counts as an error.

Usage: python bench/bench_mcp.py [--scales 1 100] [--calls 100] [--clients 20]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

SERIAL_P95_MS = 50.0
CONCURRENT_P95_MS = 150.0
DAYS = ["2025-11-01", "2025-11-02", "2025-11-03"]
CALLS: dict[str, tuple[str, dict[str, Any]]] = {  # label → (tool, arguments): what an assistant typically asks
    "kpi.top_root_causes (month)": ("kpi.top_root_causes", {"year": 2025, "month": 10, "limit": 5}),
    "kpi.top_root_causes (quarter)": ("kpi.top_root_causes", {"year": 2025, "quarter": 3, "limit": 5}),
    "kpi.v12_impact": ("kpi.v12_impact", {"weeks": 8}),
    "churn.at_risk_customers": ("churn.at_risk_customers", {"segment": "Premium", "churn_window": 30, "limit": 20}),
    "churn.summary": ("churn.summary", {}),
    "pipeline.status": ("pipeline.status", {"days": 7}),
}


def _percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def _start_server() -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([str(Path(sys.executable).with_name("sa")), "mcp", "--http", "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while True:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return server, f"http://127.0.0.1:{port}/mcp"
        if server.poll() is not None or time.monotonic() > deadline:
            raise SystemExit("sa mcp --http did not start")
        time.sleep(0.2)


class _Session:
    """One MCP session over streamable HTTP, spoken directly (JSON-RPC over POST, the server answers in JSON)."""

    def __init__(self, http: Any, url: str) -> None:
        self.http, self.url, self.next_id = http, url, 1
        self.headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}

    async def open(self) -> None:
        reply = await self.http.post(self.url, headers=self.headers, json={
            "jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
                "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "bench", "version": "1"}}})
        reply.raise_for_status()
        self.headers.update({"mcp-session-id": reply.headers["mcp-session-id"],
                             "mcp-protocol-version": reply.json()["result"]["protocolVersion"]})
        await self.http.post(self.url, headers=self.headers,
                             json={"jsonrpc": "2.0", "method": "notifications/initialized"})

    async def call(self, tool: str, arguments: dict[str, Any]) -> str | None:
        """Call `tool`; None when it answered with structured content, else what went wrong."""
        self.next_id += 1
        reply = await self.http.post(self.url, headers=self.headers, json={
            "jsonrpc": "2.0", "id": self.next_id, "method": "tools/call",
            "params": {"name": tool, "arguments": arguments}})
        if reply.status_code != 200:
            return f"HTTP {reply.status_code}"
        result = reply.json().get("result") or {}
        if result.get("isError") or "structuredContent" not in result:
            return str(result)[:200]
        return None


async def _client(url: str, plan: list[str], warmup: int, timings: dict[str, list[float]],
                  errors: list[str]) -> None:
    import httpx

    async with httpx.AsyncClient(timeout=60) as http:
        session = _Session(http, url)
        await session.open()
        for i, label in enumerate(plan):
            tool, arguments = CALLS[label]
            started = time.perf_counter()
            error = await session.call(tool, arguments)
            elapsed = (time.perf_counter() - started) * 1000
            if error:
                errors.append(f"{label}: {error}")
            elif i >= warmup:
                timings[label].append(elapsed)


async def _sdk_client(url: str, calls: int) -> tuple[dict[str, list[float]], list[str], float]:
    from mcp import Client

    timings: dict[str, list[float]] = {label: [] for label in CALLS}
    errors: list[str] = []
    started = time.perf_counter()
    async with Client(url) as client:
        for i in range(calls + 1):
            for label, (tool, arguments) in CALLS.items():
                began = time.perf_counter()
                result = await client.call_tool(tool, arguments)
                if result.is_error:
                    errors.append(f"{label}: {result.content[0].text}")  # type: ignore[union-attr]
                elif i:
                    timings[label].append((time.perf_counter() - began) * 1000)
    return timings, errors, time.perf_counter() - started


async def _measure(url: str, clients: int, calls: int) -> tuple[dict[str, list[float]], list[str], float]:
    import anyio

    timings: dict[str, list[float]] = {label: [] for label in CALLS}
    errors: list[str] = []
    labels = list(CALLS)
    started = time.perf_counter()
    async with anyio.create_task_group() as group:
        for c in range(clients):  # each client cycles through every tool, starting at a different one
            plan = [labels[(c + i) % len(labels)] for i in range(len(labels) * (calls + 1))]
            group.start_soon(_client, url, plan, len(labels), timings, errors)
    return timings, errors, time.perf_counter() - started


def _report(title: str, timings: dict[str, list[float]], errors: list[str], wall: float, target: float) -> None:
    total = sum(len(v) for v in timings.values())
    print(f"  {title}: {total} timed calls in {wall:.1f}s, {len(errors)} errors"
          + (f" (first: {errors[0][:120]})" if errors else ""))
    print(f"    {'tool':32} {'p50 ms':>8} {'p95 ms':>8} {'p95/target':>11}")
    for label, values in timings.items():
        if values:
            p50, p95 = statistics.median(values), _percentile(values, 95)
            print(f"    {label:32} {p50:8.1f} {p95:8.1f} {p95 / target:10.2f}x")


def run(scale: float, calls: int, clients: int) -> None:
    import anyio
    from _warehouse import bench_warehouse

    with bench_warehouse(f"mcp-{scale:g}"):
        from include.config import get_settings
        from include.ingest.batch import load_batch
        from include.simulator import generate
        from include.transform.runner import run_dbt

        settings = get_settings()
        started = time.perf_counter()
        generate(settings.landing_root, scale=scale, start=date(2025, 11, 1), end=date(2025, 11, 3))
        for batch in ["history", *DAYS]:
            load_batch(batch, settings)
        build = run_dbt(["build", "--vars", "{as_of_date: '2025-11-03'}", "--target-path",
                         str(settings.local_dir / "dbt-target"), "--log-path", str(settings.local_dir / "dbt-logs")],
                        settings)
        if not build.success:
            raise SystemExit(build.summary())
        print(f"scale={scale:g}: warehouse built in {time.perf_counter() - started:.0f}s ({build.summary()})")
        server, url = _start_server()
        try:
            timings, errors, wall = anyio.run(_measure, url, 1, calls)
            _report("1 client, serial", timings, errors, wall, SERIAL_P95_MS)
            per_client = max(5, calls // clients * 2)
            timings, errors, wall = anyio.run(_measure, url, clients, per_client)
            _report(f"{clients} concurrent clients", timings, errors, wall, CONCURRENT_P95_MS)
            timings, errors, wall = anyio.run(_sdk_client, url, max(5, calls // 5))
            _report("SDK client (mcp.Client), serial, for comparison", timings, errors, wall, SERIAL_P95_MS)
        finally:
            server.terminate()
            server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scales", type=float, nargs="+", default=[1, 100])
    parser.add_argument("--calls", type=int, default=100, help="timed calls per tool, serial")
    parser.add_argument("--clients", type=int, default=20)
    args = parser.parse_args()
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    for scale in args.scales:
        run(scale, args.calls, args.clients)


if __name__ == "__main__":
    main()
