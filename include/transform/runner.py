"""Run the dbt project in-process (`dbt.cli.main.dbtRunner`), with the profile values from the settings module.

In-process invocation skips the interpreter and dbt import start-up that dominates a `dbt build` of this small
project as a subprocess, and dbt's partial parse (`target/partial_parse.msgpack`) skips re-parsing
unchanged files. dbt is imported inside the functions so that importing this module (e.g. from a DAG file at
parse time) stays cheap.

dbtRunner is not thread-safe (it sets process-wide flags, logging and environment): `run_dbt` serialises calls
within a process with a lock.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from include.config import Settings, get_settings
from include.transform.dbt_env import dbt_env

FAILED_STATUSES = frozenset({"error", "fail", "runtime error"})
_INVOCATION_LOCK = threading.Lock()


@dataclass(frozen=True)
class NodeResult:
    """One executed node: a model, a data test, a unit test or a source freshness check."""

    unique_id: str
    name: str
    resource_type: str
    status: str
    message: str | None
    failures: int | None
    seconds: float

    @property
    def failed(self) -> bool:
        return self.status in FAILED_STATUSES


@dataclass(frozen=True)
class DbtResult:
    """The outcome of one dbt invocation as plain data; `raw` keeps dbt's own result object."""

    args: tuple[str, ...]
    success: bool
    seconds: float
    nodes: tuple[NodeResult, ...] = ()
    exception: str | None = None
    raw: Any = field(default=None, repr=False, compare=False)
    """dbt's own result object (`RunExecutionResult`, `Manifest`, ...) for callers that need more."""

    @property
    def failed_nodes(self) -> tuple[NodeResult, ...]:
        return tuple(n for n in self.nodes if n.failed)

    @property
    def failed_names(self) -> tuple[str, ...]:
        return tuple(n.name for n in self.failed_nodes)

    def summary(self) -> str:
        """One line for logs and assertion messages."""
        counts: dict[str, int] = {}
        for node in self.nodes:
            counts[node.status] = counts.get(node.status, 0) + 1
        parts = ", ".join(f"{k}={v}" for k, v in sorted(counts.items()))
        verdict = "ok" if self.success else "FAILED"
        tail = f"; exception: {self.exception}" if self.exception else ""
        failed = f"; failed: {', '.join(self.failed_names)}" if self.failed_nodes else ""
        return f"dbt {' '.join(self.args[:1])} {verdict} in {self.seconds:.1f}s ({parts}){failed}{tail}"


def _with_paths(args: Sequence[str], settings: Settings, target_path: Path | None, log_path: Path | None) -> list[str]:
    full = list(args)
    project = str(settings.dbt_project_dir)
    if "--project-dir" not in full:
        full += ["--project-dir", project]
    if "--profiles-dir" not in full:
        full += ["--profiles-dir", project]
    if target_path is not None and "--target-path" not in full:
        full += ["--target-path", str(target_path)]
    if log_path is not None and "--log-path" not in full:
        full += ["--log-path", str(log_path)]
    return full


def _node_results(result: Any) -> tuple[NodeResult, ...]:
    """RunExecutionResult → NodeResult per node; other results (parse, docs, ls) carry no node results."""
    nodes = []
    for item in getattr(result, "results", None) or ():
        node = getattr(item, "node", None)
        if node is None:
            continue
        status = getattr(item.status, "value", item.status)
        nodes.append(
            NodeResult(
                unique_id=node.unique_id,
                name=node.name,
                resource_type=str(getattr(node.resource_type, "value", node.resource_type)),
                status=str(status),
                message=item.message,
                failures=item.failures,
                seconds=float(item.execution_time or 0.0),
            )
        )
    return tuple(nodes)


@contextmanager
def _profile_env(settings: Settings) -> Iterator[None]:
    """The profile variables of `settings` for one invocation, then the process's own back: a run against another
    database (a test's, a benchmark's) must not leave later dbt runs — Cosmos' subprocesses inherit this
    environment — pointing at it."""
    wanted = dbt_env(settings)
    before = {name: os.environ.get(name) for name in wanted}
    os.environ.update(wanted)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def run_dbt(
    args: list[str],
    settings: Settings | None = None,
    *,
    target_path: Path | None = None,
    log_path: Path | None = None,
) -> DbtResult:
    """Invoke dbt in-process, e.g. `run_dbt(["build", "--vars", "{as_of_date: 2025-11-07}"])`.

    The profile variables (`SA_DBT_*`) are set from `settings` first; `--project-dir`/`--profiles-dir` default to
    `settings.dbt_project_dir`. `target_path`/`log_path` let concurrent callers (tests, benchmarks) keep their
    artifacts apart from `dbt/target`, which holds the manifest Cosmos reads. A test failure is a result with
    `success=False` naming the failed nodes; only a crash of dbt itself sets `exception`.
    """
    from dbt.cli.main import dbtRunner

    settings = settings or get_settings()
    full = _with_paths(args, settings, target_path, log_path)
    with _INVOCATION_LOCK, _profile_env(settings):
        started = time.perf_counter()
        outcome = dbtRunner().invoke(full)
        seconds = time.perf_counter() - started
    exception = None if outcome.exception is None else f"{type(outcome.exception).__name__}: {outcome.exception}"
    return DbtResult(
        args=tuple(args),
        success=bool(outcome.success),
        seconds=seconds,
        nodes=_node_results(outcome.result),
        exception=exception,
        raw=outcome.result,
    )


def build_manifest(settings: Settings | None = None, *, target_path: Path | None = None) -> Path:
    """`dbt parse` → `<target>/manifest.json` (default `dbt/target`), for Cosmos' LoadMode.DBT_MANIFEST.

    Parsing never connects to the warehouse, so this runs at install, CI or image-build time.
    """
    settings = settings or get_settings()
    result = run_dbt(["parse", "--quiet"], settings, target_path=target_path)
    if not result.success:
        raise RuntimeError(f"dbt parse failed: {result.exception or result.summary()}")
    manifest = (target_path or settings.dbt_project_dir / "target") / "manifest.json"
    if not manifest.exists():
        raise RuntimeError(f"dbt parse succeeded but wrote no {manifest}")
    return manifest
