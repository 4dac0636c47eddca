"""A throwaway embedded warehouse for benchmarks: its own local folder and a free port, stopped afterwards."""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def bench_warehouse(name: str) -> Iterator[Path]:
    """Yield a fresh local dir whose embedded warehouse is started and bootstrapped (settings via env)."""
    local = Path(tempfile.mkdtemp(prefix=f"sa-bench-{name}-"))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    os.environ.pop("WAREHOUSE_URL", None)
    os.environ.update({"SA_LOCAL_DIR": str(local), "SA_EMBEDDED_PG_PORT": str(port)})
    os.environ.pop("SA_LANDING_ROOT", None)
    from include.warehouse import bootstrap, embedded

    embedded.start()
    bootstrap.bootstrap()
    try:
        yield local
    finally:
        embedded.stop()
        if os.environ.get("SA_BENCH_KEEP"):  # logs and data of a failed run, to look at
            print(f"kept {local}")
        else:
            shutil.rmtree(local, ignore_errors=True)
