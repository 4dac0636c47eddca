"""A second `make demo` while one runs says so clearly and changes nothing."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys

from include.config import get_settings


def test_second_demo_is_refused_while_one_runs() -> None:
    settings = get_settings()
    settings.local_dir.mkdir(parents=True, exist_ok=True)
    before = sorted(p.name for p in settings.local_dir.iterdir())
    with open(settings.local_dir / "demo.lock", "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        lock.truncate(0)
        lock.write("4242")
        lock.flush()
        second = subprocess.run([sys.executable, "-m", "include.demo"], capture_output=True, text=True,
                                env=dict(os.environ), timeout=60)
    assert second.returncode == 2
    assert "make demo is already running (pid 4242" in second.stderr
    after = sorted(p.name for p in settings.local_dir.iterdir())
    assert after == sorted({*before, "demo.lock"}), "the refused demo must not start any work"
