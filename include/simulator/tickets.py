"""What a support ticket is about and how it runs its course.

Given who raised a ticket and when, this module decides product, category, root cause, channel, priority and
subject, then draws the whole lifecycle at once (first response, resolution, closure, survey score). Drawing
the future at creation time is what lets a later day re-send the ticket without re-simulating anything.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .catalog import BASELINE_CAUSES, CATEGORIES, ROOT_CAUSES, V12_CAUSES
from .population import PRODUCT_TYPE_CODE, PRODUCT_TYPE_INDEX, Population
from .rng import choice_rows
from .vocab import SUBJECTS_BY_CATEGORY, SUBJECTS_BY_V12_CAUSE
from .world import DAY_SECONDS, NEVER

CHANNELS: tuple[str, ...] = ("app", "web", "phone", "email", "chat")
PRIORITIES: tuple[str, ...] = ("low", "medium", "high", "urgent")
STATUSES: tuple[str, ...] = ("open", "in_progress", "resolved", "closed")
SEVERITIES: tuple[str, ...] = ("low", "medium", "high", "critical")
WEB = 2
"""Index of 'web' in world.DEVICES."""

CATEGORY_INDEX = {c.category_id: i for i, c in enumerate(CATEGORIES)}
CAUSE_INDEX = {r.root_cause_id: i for i, r in enumerate(ROOT_CAUSES)}
CAUSE_SEVERITY = np.array([SEVERITIES.index(r.severity) for r in ROOT_CAUSES])

CATEGORY_GIVEN_TYPE = np.array(
    [  # Login, Payments, Loan App, Cards, KYC, App Perf, Account Mgmt, Fraud
        [0.12, 0.10, 0.40, 0.02, 0.14, 0.08, 0.10, 0.04],  # Digital Lending
        [0.20, 0.12, 0.02, 0.02, 0.16, 0.12, 0.30, 0.06],  # Savings
        [0.12, 0.12, 0.01, 0.45, 0.05, 0.07, 0.08, 0.10],  # Cards
        [0.14, 0.45, 0.01, 0.04, 0.08, 0.10, 0.08, 0.10],  # Payments
        [0.15, 0.10, 0.01, 0.01, 0.25, 0.15, 0.25, 0.08],  # Investments
    ]
)
BASELINE_CAUSE_INDEX = np.array([CAUSE_INDEX[r.root_cause_id] for r in BASELINE_CAUSES])
CAUSE_GIVEN_CATEGORY = np.array(
    [[r.weight if r.category_id == c.category_id else 0.0 for r in BASELINE_CAUSES] for c in CATEGORIES]
)
V12_CAUSE_INDEX = np.array([CAUSE_INDEX[r.root_cause_id] for r in V12_CAUSES])
V12_WEIGHTS = np.array([r.weight for r in V12_CAUSES])
V12_TYPE = np.array([PRODUCT_TYPE_INDEX[r.product_type] if r.product_type else -1 for r in V12_CAUSES])
V12_CATEGORY = np.array([CATEGORY_INDEX[r.category_id] for r in V12_CAUSES])

BASELINE_CHANNELS = np.array([0.34, 0.16, 0.20, 0.12, 0.18])
REGRESSION_CHANNELS = np.array([0.55, 0.0, 0.12, 0.08, 0.25])
PRIORITY_GIVEN_SEVERITY = np.array(
    [  # low, medium, high, urgent
        [0.55, 0.38, 0.06, 0.01],  # low
        [0.20, 0.55, 0.20, 0.05],  # medium
        [0.05, 0.30, 0.45, 0.20],  # high
        [0.01, 0.09, 0.40, 0.50],  # critical
        [0.30, 0.50, 0.15, 0.05],  # no root cause recorded
    ]
)
UNCLASSIFIED_SHARE = 0.06

RESPONSE_MEDIAN_H = np.array([8.0, 3.0, 1.0, 0.3])
RESPONSE_CHANNEL_FACTOR = np.array([1.0, 1.2, 0.0, 2.5, 0.4])
RESOLUTION_MEDIAN_H = np.array([52.0, 30.0, 14.0, 5.0])
RESOLUTION_SEVERITY_FACTOR = np.array([0.8, 1.0, 1.3, 1.6, 1.0])
REGRESSION_RESOLUTION_FACTOR = 1.5
STUCK_SHARE = 0.03
CLOSE_SHARE = 0.85
SURVEY_ANSWER_SHARE = 0.65

SUBJECT_VARIANTS = 5
"""Clean text plus four kinds of stray formatting the staging model must clean."""
STRAY_SHARE = 0.04
_BASE_SUBJECTS: tuple[str, ...] = tuple(s for c in CATEGORIES for s in SUBJECTS_BY_CATEGORY[c.category_id]) + tuple(
    s for r in V12_CAUSES for s in SUBJECTS_BY_V12_CAUSE[r.root_cause_id]
)
SUBJECTS: tuple[str, ...] = tuple(text for s in _BASE_SUBJECTS for text in (s, f" {s}", f"{s}  ", s.upper(), s.lower()))
_PER_CATEGORY = 3
_PER_V12 = 2
_V12_SUBJECT_BASE = len(CATEGORIES) * _PER_CATEGORY


@dataclass(frozen=True)
class Tickets:
    """Tickets of one chunk; `events` holds created, first response, resolved, closed (seconds, NEVER if not)."""

    owner: np.ndarray
    product: np.ndarray
    category: np.ndarray
    cause: np.ndarray
    channel: np.ndarray
    priority: np.ndarray
    subject: np.ndarray
    app_version: np.ndarray
    events: np.ndarray
    satisfaction: np.ndarray
    """1..5, or -1 when the survey was not answered."""

    def __len__(self) -> int:
        return len(self.owner)

    @staticmethod
    def concat(parts: list[Tickets]) -> Tickets:
        fields = Tickets.__dataclass_fields__
        return Tickets(**{name: np.concatenate([getattr(p, name) for p in parts]) for name in fields})

    def take(self, order: np.ndarray) -> Tickets:
        return Tickets(**{name: getattr(self, name)[order] for name in Tickets.__dataclass_fields__})


def _random_slot(rng: np.random.Generator, allowed: np.ndarray) -> np.ndarray:
    """A uniformly random allowed slot per row; slot 0 (the customer's first product) when none is allowed."""
    keys = np.where(allowed, rng.random(allowed.shape), -1.0)
    slot = np.argmax(keys, axis=1)
    return np.where(allowed.any(axis=1), slot, 0)


def _open_slots(pop: Population, owner: np.ndarray, t: np.ndarray) -> np.ndarray:
    return (pop.open_day[owner] <= t[:, None]) & (t[:, None] < pop.close_day[owner])


def baseline_subjects(
    rng: np.random.Generator, pop: Population, owner: np.ndarray, t: np.ndarray
) -> tuple[np.ndarray, ...]:
    """Everyday tickets: product from the customer's open holdings, category by product type, cause by category."""
    slot = _random_slot(rng, _open_slots(pop, owner, t))
    product = pop.product[owner, slot]
    category = choice_rows(rng, CATEGORY_GIVEN_TYPE[PRODUCT_TYPE_CODE[product]])
    cause = BASELINE_CAUSE_INDEX[choice_rows(rng, CAUSE_GIVEN_CATEGORY[category])]
    cause = np.where(rng.random(len(owner)) < UNCLASSIFIED_SHARE, -1, cause)
    channel = choice_rows(rng, np.broadcast_to(BASELINE_CHANNELS, (len(owner), len(CHANNELS))))
    device = pop.device[owner]
    channel = np.where((device == WEB) & (channel == 0), 1, channel)
    has_app = (device != WEB) & ((channel == 0) | (channel == 4) | (rng.random(len(owner)) < 0.5))
    app_version = np.where(has_app, pop.app_version_at(owner, t), -1)
    subject = category * _PER_CATEGORY + rng.integers(0, _PER_CATEGORY, len(owner))
    return product, category, cause, channel, app_version, subject


def regression_subjects(
    rng: np.random.Generator, pop: Population, owner: np.ndarray, t: np.ndarray
) -> tuple[np.ndarray, ...]:
    """v1.2 faults: the cause must live in a product type the customer holds, which concentrates them."""
    open_slots = _open_slots(pop, owner, t)
    slot_type = PRODUCT_TYPE_CODE[np.maximum(pop.product[owner], 0)]
    holds = (open_slots[:, :, None] & (slot_type[:, :, None] == V12_TYPE[None, None, :])).any(axis=1)
    applicable = holds | (V12_TYPE[None, :] < 0)
    pick = choice_rows(rng, applicable * V12_WEIGHTS[None, :])
    wanted = V12_TYPE[pick]
    slot = _random_slot(rng, open_slots & ((slot_type == wanted[:, None]) | (wanted[:, None] < 0)))
    product = pop.product[owner, slot]
    channel = choice_rows(rng, np.broadcast_to(REGRESSION_CHANNELS, (len(owner), len(CHANNELS))))
    app_version = np.full(len(owner), 2)
    subject = _V12_SUBJECT_BASE + pick * _PER_V12 + rng.integers(0, _PER_V12, len(owner))
    return product, V12_CATEGORY[pick], V12_CAUSE_INDEX[pick], channel, app_version, subject


def lifecycle(
    rng: np.random.Generator,
    created_day: np.ndarray,
    cause: np.ndarray,
    channel: np.ndarray,
    regression: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Priority, the four event times, and the survey score, all decided when the ticket is opened.

    Resolution is lognormal (long tail) by priority and severity; satisfaction falls with resolution time.
    """
    n = len(created_day)
    severity = np.where(cause >= 0, CAUSE_SEVERITY[np.maximum(cause, 0)], 4)
    priority = choice_rows(rng, PRIORITY_GIVEN_SEVERITY[severity])
    response_h = RESPONSE_MEDIAN_H[priority] * RESPONSE_CHANNEL_FACTOR[channel] * rng.lognormal(0.0, 0.8, n)
    response_h = np.where(channel == 2, rng.random(n) * 0.15, response_h)
    resolution_h = (
        RESOLUTION_MEDIAN_H[priority]
        * RESOLUTION_SEVERITY_FACTOR[severity]
        * np.where(regression, REGRESSION_RESOLUTION_FACTOR, 1.0)
        * rng.lognormal(0.0, 0.9, n)
    )
    resolution_h = np.where(rng.random(n) < STUCK_SHARE, resolution_h * 15.0, resolution_h)
    resolution_h = np.maximum(resolution_h, response_h + 0.05 + rng.random(n) * 0.5)
    close_after = (2.0 + 5.0 * rng.random(n)) * DAY_SECONDS
    closes = rng.random(n) < CLOSE_SHARE
    answered = rng.random(n) < SURVEY_ANSWER_SHARE
    noise = rng.normal(0.0, 0.7, n)

    created = np.floor(created_day * DAY_SECONDS).astype(np.int64)
    responded = created + np.round(response_h * 3600).astype(np.int64)
    resolved = np.maximum(created + np.round(resolution_h * 3600).astype(np.int64), responded + 1)
    closed = np.where(closes, resolved + close_after.astype(np.int64), NEVER)
    events = np.stack([created, responded, resolved, closed], axis=1)
    hours = (resolved - created) / 3600.0
    score = np.clip(np.round(5.2 - 0.55 * np.log(hours) + noise), 1, 5).astype(np.int8)
    satisfaction = np.where(answered, score, -1).astype(np.int8)
    return priority, events, satisfaction


def stray_formatting(rng: np.random.Generator, subject: np.ndarray) -> np.ndarray:
    """A few subjects arrive with stray spaces or shouting, as free text from a real source does."""
    variant = np.where(rng.random(len(subject)) < STRAY_SHARE, rng.integers(1, SUBJECT_VARIANTS, len(subject)), 0)
    return subject * SUBJECT_VARIANTS + variant
