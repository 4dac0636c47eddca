"""Logins and tickets of one chunk of customers, drawn week by week.

Each week block has its own random stream (seed, chunk, block), so the events of week 10 are the same whether
the run stops in week 11 or in week 50; the block that contains the end date is drawn whole and its later
events simply fall outside the window being written.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import tickets as tk
from . import world as w
from .population import Population
from .rng import Stream, stream


@dataclass(frozen=True)
class Logins:
    owner: np.ndarray
    at: np.ndarray
    device: np.ndarray
    app_version: np.ndarray

    def __len__(self) -> int:
        return len(self.owner)

    @staticmethod
    def concat(parts: list[Logins]) -> Logins:
        fields = Logins.__dataclass_fields__
        return Logins(**{name: np.concatenate([getattr(p, name) for p in parts]) for name in fields})


@dataclass(frozen=True)
class Timeline:
    """Everything one chunk of customers did from history_start to the end of the last block drawn."""

    population: Population
    logins: Logins
    tickets: tk.Tickets


def sample_process(
    rng: np.random.Generator,
    owner: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    rate: np.ndarray,
    curve: w.Curve | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Events of independent Poisson processes, one per (owner, [a, b)) piece with intensity rate * curve."""
    valid = b > a
    a = np.where(valid, a, 0.0)
    b = np.where(valid, b, 0.0)
    ga, gb = (a, b) if curve is None else (curve.at(a), curve.at(b))
    counts = rng.poisson(np.where(valid, rate * (gb - ga), 0.0))
    piece = np.repeat(np.arange(len(owner)), counts)
    g = ga[piece] + rng.random(len(piece)) * (gb - ga)[piece]
    t = g if curve is None else curve.inverse(g)
    return owner[piece], np.clip(t, a[piece], np.nextafter(b[piece], -np.inf))


def _clip(lo: np.ndarray, hi: np.ndarray, b0: float, b1: float) -> tuple[np.ndarray, np.ndarray]:
    return np.maximum(lo, b0), np.minimum(hi, b1)


def block_logins(rng: np.random.Generator, pop: Population, b0: float, b1: float) -> Logins:
    """Logins at each customer's own rate, fading in steps over the 30 days before they churn."""
    everyone = np.arange(len(pop))
    churn = pop.churn_day
    edges = [pop.active_from] + [np.maximum(pop.active_from, churn - d) for d, _ in w.LOGIN_DECAY] + [churn]
    factors = [1.0] + [f for _, f in w.LOGIN_DECAY]
    owners, times = [], []
    for lo, hi, factor in zip(edges[:-1], edges[1:], factors, strict=True):
        a, b = _clip(lo, hi, b0, b1)
        o, t = sample_process(rng, everyone, a, b, pop.login_rate * factor, None)
        owners.append(o)
        times.append(t)
    owner = np.concatenate(owners)
    t = np.concatenate(times)
    order = np.argsort(t, kind="stable")
    owner, t = owner[order], t[order]
    primary = rng.random(len(owner)) < w.PRIMARY_DEVICE_SHARE
    device = np.where(primary, pop.device[owner], rng.integers(0, len(w.DEVICES), len(owner))).astype(np.int8)
    app_version = np.where(device == tk.WEB, -1, pop.app_version_at(owner, t)).astype(np.int8)
    at = np.floor(t * w.DAY_SECONDS).astype(np.int64)
    return Logins(owner, at, device, app_version)


def block_tickets(rng: np.random.Generator, pop: Population, cal: w.Calendar, b0: float, b1: float) -> tk.Tickets:
    """Everyday tickets (more of them just before churn) plus v1.2 regression tickets after the app updates."""
    everyone = np.arange(len(pop))
    churn = pop.churn_day
    pre_churn = np.maximum(pop.active_from, churn - w.PRE_CHURN_TICKET_DAYS)
    lo, hi = _clip(pop.active_from, pre_churn, b0, b1)
    o1, t1 = sample_process(rng, everyone, lo, hi, pop.ticket_rate, cal.tickets)
    lo, hi = _clip(pre_churn, churn, b0, b1)
    o2, t2 = sample_process(rng, everyone, lo, hi, pop.ticket_rate * w.PRE_CHURN_TICKET_FACTOR, cal.tickets)
    weight = np.where(pop.exposed, w.REGRESSION_EXPOSED_WEIGHT, w.REGRESSION_UNEXPOSED_WEIGHT)
    weight = weight * np.where(pop.device == tk.WEB, 0.3, 1.0)
    lo, hi = _clip(np.maximum(pop.active_from, pop.adopt_day[:, 1]), churn, b0, b1)
    o3, t3 = sample_process(rng, everyone, lo, hi, w.REGRESSION_TICKETS_PER_DAY * weight, cal.regression)

    base_owner, base_t = np.concatenate([o1, o2]), np.concatenate([t1, t2])
    base = tk.baseline_subjects(rng, pop, base_owner, base_t)
    regression = tk.regression_subjects(rng, pop, o3, t3)
    owner = np.concatenate([base_owner, o3])
    t = np.concatenate([base_t, t3])
    product, category, cause, channel, app_version, subject = (
        np.concatenate([x, y]) for x, y in zip(base, regression, strict=True)
    )
    is_regression = np.arange(len(owner)) >= len(base_owner)
    priority, events, satisfaction = tk.lifecycle(rng, t, cause, channel, is_regression)
    subject = tk.stray_formatting(rng, subject)
    batch = tk.Tickets(
        owner=owner,
        product=product.astype(np.int16),
        category=category.astype(np.int8),
        cause=cause.astype(np.int8),
        channel=channel.astype(np.int8),
        priority=priority.astype(np.int8),
        subject=subject.astype(np.int16),
        app_version=app_version.astype(np.int8),
        events=events,
        satisfaction=satisfaction,
    )
    return batch.take(np.argsort(events[:, 0], kind="stable"))


def simulate(seed: int, chunk: int, pop: Population, cal: w.Calendar, last_day: int) -> Timeline:
    """Draw every week block from history_start through the block containing `last_day` (epoch day)."""
    n_blocks = max(0, (last_day - cal.origin) // w.BLOCK_DAYS + 1)
    logins: list[Logins] = []
    tickets: list[tk.Tickets] = []
    for block in range(n_blocks):
        rng = stream(seed, Stream.ACTIVITY, chunk, block)
        b0 = float(cal.origin + block * w.BLOCK_DAYS)
        b1 = b0 + w.BLOCK_DAYS
        logins.append(block_logins(rng, pop, b0, b1))
        tickets.append(block_tickets(rng, pop, cal, b0, b1))
    if not logins:
        empty = np.empty(0, dtype=np.int64)
        logins.append(Logins(empty, empty, empty.astype(np.int8), empty.astype(np.int8)))
        tickets.append(_no_tickets())
    return Timeline(pop, Logins.concat(logins), tk.Tickets.concat(tickets))


def _no_tickets() -> tk.Tickets:
    i8 = np.empty(0, dtype=np.int8)
    return tk.Tickets(
        owner=np.empty(0, dtype=np.int64),
        product=i8.astype(np.int16),
        category=i8,
        cause=i8,
        channel=i8,
        priority=i8,
        subject=i8.astype(np.int16),
        app_version=i8,
        events=np.empty((0, 4), dtype=np.int64),
        satisfaction=i8,
    )
