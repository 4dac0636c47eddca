"""A small client of the local Airflow REST API (v2): log in, unpause, trigger, backfill, wait for runs.

Used by `make demo`, `sa backfill` and the end-to-end tests, which drive the real scheduler exactly as an engineer
would. stdlib only (urllib), so it adds no dependency. An Airflow that does not answer is one clear error
(`AirflowUnreachable`), not a traceback.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from datetime import datetime
from typing import Any

TERMINAL = {"success", "failed"}
WAIT_POLL_S = 1.0  # how often wait_for_run(s) asks: one GET a second, so a wait ends within a second of the run


class AirflowApiError(RuntimeError):
    pass


class AirflowUnreachable(AirflowApiError):
    """Nothing answers at the API's address (Airflow not started, wrong port)."""

PAGE = 100


@dataclass
class AirflowApi:
    base_url: str
    username: str
    password: str
    _token: str | None = None

    def _request(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        if self._token is None and path != "/auth/token":
            self._token = self._request("POST", "/auth/token",
                                        {"username": self.username, "password": self.password})["access_token"]
        headers = {"Content-Type": "application/json"}
        if self._token and path != "/auth/token":
            headers["Authorization"] = f"Bearer {self._token}"
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base_url + path, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                text = response.read().decode()
        except urllib.error.HTTPError as exc:
            raise AirflowApiError(f"{method} {path} → {exc.code}: {exc.read().decode()[:500]}") from exc
        except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
            reason = getattr(exc, "reason", exc)
            raise AirflowUnreachable(f"Airflow does not answer at {self.base_url} ({reason}): start it with "
                                     "`make airflow-start` (or check SA_AIRFLOW_PORT)") from None
        return json.loads(text) if text else None

    def unpause(self, dag_id: str) -> None:
        self._request("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False})

    def dag(self, dag_id: str) -> dict[str, Any]:
        return self._request("GET", f"/api/v2/dags/{dag_id}")

    def dag_details(self, dag_id: str) -> dict[str, Any]:
        """The DAG with its schedule's details (e.g. `asset_expression`, the Assets it waits for)."""
        return self._request("GET", f"/api/v2/dags/{dag_id}/details")

    def wait_for_dags(self, dag_ids: list[str], timeout_s: float = 180) -> None:
        """The dag-processor has serialised every DAG (a fresh Airflow needs a few seconds)."""
        deadline = time.monotonic() + timeout_s
        missing = list(dag_ids)
        while time.monotonic() < deadline:
            missing = []
            for dag_id in dag_ids:
                try:
                    self.dag(dag_id)
                except AirflowApiError:
                    missing.append(dag_id)
            if not missing:
                return
            time.sleep(2)
        raise TimeoutError(f"DAGs not parsed after {timeout_s:.0f}s: {missing}")

    def trigger(self, dag_id: str, logical_date: str | None = None, conf: dict[str, Any] | None = None) -> str:
        run = self._request("POST", f"/api/v2/dags/{dag_id}/dagRuns",
                            {"logical_date": logical_date, "conf": conf or {}})
        return run["dag_run_id"]

    def create_backfill(self, dag_id: str, first: str, last: str, *, rerun: bool = True,
                        max_active_runs: int = 1) -> dict[str, Any]:
        """Airflow's own backfill of `dag_id` for the logical dates first..last (ISO datetimes), oldest first, one
        run at a time; `rerun` re-runs dates that already have a completed run (else they are skipped)."""
        return self._request("POST", "/api/v2/backfills", {
            "dag_id": dag_id, "from_date": first, "to_date": last, "run_backwards": False,
            "reprocess_behavior": "completed" if rerun else "none", "max_active_runs": max_active_runs})

    def backfills(self, dag_id: str) -> list[dict[str, Any]]:
        """The DAG's backfills (from the API, the UI's dialog or the CLI), oldest first."""
        return list(self._request("GET", f"/api/v2/backfills?dag_id={urllib.parse.quote(dag_id)}")["backfills"])

    def backfill(self, backfill_id: int) -> dict[str, Any]:
        return self._request("GET", f"/api/v2/backfills/{backfill_id}")

    def backfill_runs(self, backfill: dict[str, Any]) -> list[dict[str, Any]]:
        """The runs of a backfill's date range (new backfill runs, and existing runs it re-ran), oldest first."""
        first, last = (datetime.fromisoformat(backfill[k].replace("Z", "+00:00")) for k in ("from_date", "to_date"))
        return [r for r in self.runs(backfill["dag_id"]) if r.get("logical_date")
                and first <= datetime.fromisoformat(r["logical_date"].replace("Z", "+00:00")) <= last]

    def clear_failed(self, dag_id: str, run_id: str) -> int:
        """Clear a run's failed and upstream-failed tasks, and what is downstream of them (the UI's "Clear" on a
        failed run); returns how many task instances were cleared."""
        body = {"dag_run_id": run_id, "only_failed": True, "include_downstream": True, "dry_run": False,
                "reset_dag_runs": True}
        return int(self._request("POST", f"/api/v2/dags/{dag_id}/clearTaskInstances", body)["total_entries"])

    def wait_for_run(self, dag_id: str, run_id: str, timeout_s: float = 1800) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            run = self.run(dag_id, run_id)
            if run["state"] in TERMINAL:
                return run
            time.sleep(WAIT_POLL_S)
        raise TimeoutError(f"{dag_id} run {run_id} not finished within {timeout_s:.0f}s")

    def runs(self, dag_id: str, run_type: str | None = None) -> list[dict[str, Any]]:
        """Every run of `dag_id` (all pages), oldest first."""
        runs: list[dict[str, Any]] = []
        kind = f"&run_type={run_type}" if run_type else ""
        while True:
            page = self._request("GET", f"/api/v2/dags/{dag_id}/dagRuns?limit={PAGE}&offset={len(runs)}"
                                        f"&order_by=run_after{kind}")
            runs += page["dag_runs"]
            total = page.get("total_entries")
            if len(page["dag_runs"]) < PAGE or (total is not None and len(runs) >= total):
                return runs

    def run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        return self._request("GET", f"/api/v2/dags/{dag_id}/dagRuns/{urllib.parse.quote(run_id, safe='')}")

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        path = f"/api/v2/dags/{dag_id}/dagRuns/{urllib.parse.quote(run_id, safe='')}/taskInstances?limit=200"
        return self._request("GET", path)["task_instances"]

    def wait_for_runs(self, dag_id: str, count: int, timeout_s: float = 600) -> list[dict[str, Any]]:
        """Wait until `dag_id` has at least `count` runs, all finished; returns them (oldest first)."""
        deadline = time.monotonic() + timeout_s
        runs: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            runs = self.runs(dag_id)
            if len(runs) >= count and all(r["state"] in TERMINAL for r in runs):
                return runs
            time.sleep(WAIT_POLL_S)
        states = [(r["dag_run_id"], r["state"]) for r in runs]
        raise TimeoutError(f"{dag_id}: expected {count} finished runs within {timeout_s:.0f}s, have {states}")
