"""Which version of which row lands in which folder.

A row has a few dated versions (a ticket: opened, answered, resolved, closed). The history folder gets the
latest version before `start`; a day folder gets, for every row that changed that day, its latest version
as of the end of that day -- one line per key, so a clean file never repeats a primary key.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .world import DAY_SECONDS


@dataclass(frozen=True)
class Window:
    """The folders written in one pass: optionally history, then consecutive days.

    Folder positions: 0 is history when `history_cutoff` is set, then one per day from `first_day`.
    """

    history_cutoff: int | None
    """Epoch seconds of `start`: history holds what happened strictly before it."""
    first_day: int
    """Epoch day of the first daily folder in this pass."""
    n_days: int

    @property
    def n_folders(self) -> int:
        return self.n_days + (self.history_cutoff is not None)

    @property
    def day_offset(self) -> int:
        return int(self.history_cutoff is not None)

    @property
    def last_day(self) -> int:
        """Last epoch day whose events matter to this pass."""
        if self.n_days:
            return self.first_day + self.n_days - 1
        assert self.history_cutoff is not None
        return self.history_cutoff // DAY_SECONDS - 1


@dataclass(frozen=True)
class Routed:
    """Rows to write, sorted by folder then entity: which entity, which of its versions, which folder."""

    entity: np.ndarray
    version: np.ndarray
    folder: np.ndarray

    def bounds(self, n_folders: int) -> np.ndarray:
        """Start offsets of each folder's rows (length n_folders + 1)."""
        return np.searchsorted(self.folder, np.arange(n_folders + 1), side="left")


def route_versions(events: np.ndarray, window: Window) -> Routed:
    """Route rows whose versions happen at `events` (n, k) seconds, non-decreasing along k."""
    entities, versions, folders = [], [], []
    if window.history_cutoff is not None:
        before = events < window.history_cutoff
        alive = np.flatnonzero(before[:, 0])
        entities.append(alive)
        versions.append(before[alive].sum(axis=1) - 1)
        folders.append(np.zeros(len(alive), dtype=np.int64))
    if window.n_days:
        day = events // DAY_SECONDS - window.first_day
        ent, k = np.nonzero((day >= 0) & (day < window.n_days))
        d = day[ent, k]
        last = np.ones(len(ent), dtype=bool)
        last[:-1] = (ent[1:] != ent[:-1]) | (d[1:] != d[:-1])
        entities.append(ent[last])
        versions.append(k[last])
        folders.append(d[last] + window.day_offset)
    return _sorted(entities, versions, folders)


def route_events(at: np.ndarray, window: Window) -> Routed:
    """Route append-only events (one version each) by their time."""
    folder = np.full(len(at), -1, dtype=np.int64)
    if window.history_cutoff is not None:
        folder[at < window.history_cutoff] = 0
    if window.n_days:
        day = at // DAY_SECONDS - window.first_day
        in_window = (day >= 0) & (day < window.n_days)
        folder[in_window] = day[in_window] + window.day_offset
    entity = np.flatnonzero(folder >= 0)
    return _sorted([entity], [np.zeros(len(entity), dtype=np.int64)], [folder[entity]])


def _sorted(entities: list[np.ndarray], versions: list[np.ndarray], folders: list[np.ndarray]) -> Routed:
    entity = np.concatenate(entities).astype(np.int64)
    version = np.concatenate(versions).astype(np.int64)
    folder = np.concatenate(folders).astype(np.int64)
    order = np.lexsort((entity, folder))
    return Routed(entity[order], version[order], folder[order])
