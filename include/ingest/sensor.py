"""Waiting for a delivery: a landing folder is complete once its `_manifest.json` exists (written last)."""

from __future__ import annotations

from datetime import datetime

from include.config import Settings, get_settings
from include.ingest.errors import IncompleteBatch
from include.ingest.manifest import MANIFEST, batch_folder, is_complete


def delivery_complete(batch_id: str, waiting_since: datetime, now: datetime,
                      settings: Settings | None = None) -> bool:
    """True once the manifest is there; raises IncompleteBatch (a clear, final failure) after the wait timeout."""
    settings = settings or get_settings()
    folder = batch_folder(settings.landing_root, batch_id)
    if is_complete(folder):
        return True
    waited = (now - waiting_since).total_seconds()
    if waited > settings.manifest_wait_timeout_s:
        state = "exists but has no manifest (delivery incomplete)" if folder.is_dir() else "does not exist"
        raise IncompleteBatch(
            f"gave up after {waited / 3600:.1f} h (SA_MANIFEST_WAIT_TIMEOUT_S={settings.manifest_wait_timeout_s}): "
            f"{folder} {state}; the source system has not delivered {batch_id}. Check the source export, then "
            f"clear this task to wait again."
        )
    print(f"waiting for {folder / MANIFEST} (waited {waited:.0f}s so far)")
    return False
