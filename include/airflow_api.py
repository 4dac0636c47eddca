"""A small client of the local Airflow REST API (v2): log in, unpause, trigger, backfill, wait for runs.

Used by `make demo` and the end-to-end tests, which drive the real scheduler exactly as an engineer would.
stdlib only (urllib), so it adds no dependency.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

TERMINAL = {"success", "failed"}


class AirflowApiError(RuntimeError):
    pass


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
        return json.loads(text) if text else None

    def unpause(self, dag_id: str) -> None:
        self._request("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False})

    def dag(self, dag_id: str) -> dict[str, Any]:
        return self._request("GET", f"/api/v2/dags/{dag_id}")

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

    def run_for_logical_date(self, dag_id: str, logical_date: str) -> str:
        """Trigger a run for `logical_date`, or clear (re-run) the existing one: a day is run once, and re-runs
        are idempotent."""
        for run in self.runs(dag_id):
            if run.get("logical_date") and run["logical_date"].replace("Z", "+00:00") == logical_date.replace(
                    "Z", "+00:00"):
                path = f"/api/v2/dags/{dag_id}/dagRuns/{urllib.parse.quote(run['dag_run_id'], safe='')}/clear"
                self._request("POST", path, {"dry_run": False})
                return run["dag_run_id"]
        return self.trigger(dag_id, logical_date=logical_date)

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
            time.sleep(3)
        raise TimeoutError(f"{dag_id} run {run_id} not finished within {timeout_s:.0f}s")

    def runs(self, dag_id: str) -> list[dict[str, Any]]:
        return self._request("GET", f"/api/v2/dags/{dag_id}/dagRuns?limit=100&order_by=run_after")["dag_runs"]

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
            time.sleep(3)
        states = [(r["dag_run_id"], r["state"]) for r in runs]
        raise TimeoutError(f"{dag_id}: expected {count} finished runs within {timeout_s:.0f}s, have {states}")
