"""The calendar and the behavioural knobs of the simulated fintech.

Everything here is a function of absolute dates (never of the requested end date), which is what keeps a day's
output independent of how far the run goes: the release of v1.2, the churn wave that follows it and the
weekly rhythm of tickets are facts of the world, not of the run.

Calibration (scale 1, seed 42, D = the default end 2025-11-07): ~10.1k customers, ~15.7k tickets, ~17 logins
per customer; is_churned_30d (last login in [D-60, D-30)) is ~14 % of customers and is_churned_90d (last
login in [D-120, D-30)) ~30 %; tickets in the four weeks after v1.2 are ~2x the four weeks before. Churn is
a calendar fact here (a summer rise, then a wave after v1.2 that hits app users of lending and payment
products hardest), so these shares describe the default window, not any end date one may pick.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

DAY_SECONDS = 86_400
NEVER = np.int64(2**62)
"""Sentinel time (seconds) for events that do not happen."""

EPOCH = date(1970, 1, 1)

APP_VERSIONS: tuple[str, ...] = ("v1.0", "v1.1", "v1.2")
RELEASE_V11 = date(2025, 4, 14)
RELEASE_V12 = date(2025, 9, 15)
ADOPTION_MEAN_DAYS = 6.0
"""Mean delay between a release and a customer's app auto-updating to it."""

EARLIEST_HISTORY_START = date(2024, 7, 1)
"""The catalogue exists from mid-2024; earlier histories would reference rows that do not exist yet."""

CHUNK_CUSTOMERS = 50_000
"""Customers simulated together; each chunk has its own random streams, so memory is bounded by this."""
BLOCK_DAYS = 7
"""Activity is drawn in week blocks, one random stream per (chunk, block): later weeks never disturb earlier ones."""

BASE_CUSTOMERS = 9_000
"""Customers (at scale 1) who signed up before history_start."""
ARRIVALS_PER_DAY = 3.5
ARRIVAL_WINDOW_DAYS = 730
"""New sign-ups arrive over two years from history_start (fixed, so the population never depends on --end)."""
PRE_HISTORY_SIGNUP_YEARS = 5
DORMANT_SHARE = 0.06
"""Share of pre-history customers who had already gone quiet before history_start: no logins, no tickets."""

SEGMENTS: tuple[str, ...] = ("Standard", "Premium", "Business", "Student")
SEGMENT_WEIGHTS = np.array([0.56, 0.16, 0.10, 0.18])
SEGMENT_CHANGE_SHARE = 0.12
"""Share of customers whose segment changes once during the arrival window."""
SEGMENT_TRANSITIONS = np.array(
    [  # from row to column: Standard, Premium, Business, Student
        [0.0, 0.7, 0.3, 0.0],
        [1.0, 0.0, 0.0, 0.0],
        [0.5, 0.5, 0.0, 0.0],
        [0.8, 0.2, 0.0, 0.0],
    ]
)
SEGMENT_TICKET_FACTOR = np.array([1.0, 1.1, 1.4, 0.8])

DEVICES: tuple[str, ...] = ("ios", "android", "web")
DEVICE_WEIGHTS = np.array([0.45, 0.40, 0.15])
PRIMARY_DEVICE_SHARE = 0.85

OCCASIONAL_SHARE = 0.20
OCCASIONAL_LOGINS_PER_DAY = 0.6 / 30
REGULAR_LOGINS_PER_DAY = 2.4 / 30
REGULAR_LOGIN_SIGMA = 0.4
LOGIN_DECAY = ((30.0, 0.6), (20.0, 0.4), (10.0, 0.25))
"""(days before churn, rate factor from then on): activity fades over the month before a customer leaves."""

TICKETS_PER_DAY = 0.0058
TICKET_RATE_SIGMA = 0.8
PRE_CHURN_TICKET_FACTOR = 2.0
PRE_CHURN_TICKET_DAYS = 45.0
REGRESSION_TICKETS_PER_DAY = 0.016
REGRESSION_EXPOSED_WEIGHT = 1.0
REGRESSION_UNEXPOSED_WEIGHT = 0.25
"""Customers without a Digital Lending or Payments product hit the v1.2 faults far less often."""
EXPOSED_TYPES: tuple[str, ...] = ("Digital Lending", "Payments")
WAVE_EXPOSED_FACTOR = 1.4
WAVE_UNEXPOSED_FACTOR = 0.4
"""The post-v1.2 churn wave hits app users of the faulty products hardest."""

HOLDINGS_PER_CUSTOMER = np.array([0.45, 0.35, 0.20])
"""P(1, 2, 3 products): mean 1.75."""
EXTRA_HOLDING_MEAN_DAYS = 240.0
CHURN_CLOSE_SHARE = 0.7
ROUTINE_CLOSE_SHARE = 0.06


def epoch_day(d: date) -> int:
    return (d - EPOCH).days


@dataclass(frozen=True)
class Curve:
    """A per-day intensity and its running integral, with exact inversion.

    Sampling an inhomogeneous Poisson process by inverting the integral lets one vectorised draw cover a
    whole week for thousands of customers. Beyond the table the last day's intensity continues, so no
    answer depends on how long a run is.
    """

    origin: int
    daily: np.ndarray
    cumulative: np.ndarray

    @classmethod
    def of(cls, origin: int, daily: np.ndarray) -> Curve:
        daily = np.maximum(np.asarray(daily, dtype=np.float64), 1e-12)
        return cls(origin, daily, np.concatenate(([0.0], np.cumsum(daily))))

    def at(self, t: np.ndarray) -> np.ndarray:
        """Integral from the origin to absolute day `t` (float days since 1970)."""
        x = np.asarray(t, dtype=np.float64) - self.origin
        n = len(self.daily)
        inside = np.interp(x, np.arange(n + 1, dtype=np.float64), self.cumulative)
        return np.where(x > n, self.cumulative[-1] + (x - n) * self.daily[-1], inside)

    def inverse(self, g: np.ndarray) -> np.ndarray:
        g = np.asarray(g, dtype=np.float64)
        n = len(self.daily)
        inside = np.interp(g, self.cumulative, np.arange(n + 1, dtype=np.float64))
        beyond = n + (g - self.cumulative[-1]) / self.daily[-1]
        return self.origin + np.where(g > self.cumulative[-1], beyond, inside)


CURVE_DAYS = 4 * 365


def _days(origin: int) -> np.ndarray:
    return origin + np.arange(CURVE_DAYS)


def _between(days: np.ndarray, first: date, last_exclusive: date) -> np.ndarray:
    return (days >= epoch_day(first)) & (days < epoch_day(last_exclusive))


@dataclass(frozen=True)
class Calendar:
    """All time-varying intensities, anchored at history_start."""

    origin: int
    tickets: Curve
    regression: Curve
    churn_base: Curve
    churn_wave: Curve

    @classmethod
    def build(cls, history_start: date) -> Calendar:
        origin = epoch_day(history_start)
        days = _days(origin)
        weekday = (days + 3) % 7  # 1970-01-01 was a Thursday; 0 = Monday
        tickets = np.select([weekday == 5, weekday == 6], [0.65, 0.55], 1.0)

        since = (days - epoch_day(RELEASE_V12)).astype(np.float64)
        decay = 0.12 + 0.88 * np.exp(-np.maximum(since - 21.0, 0.0) / 18.0)
        regression = np.where(since >= 0, decay, 0.0)

        churn_base = np.full(CURVE_DAYS, 0.0004)
        churn_base[_between(days, date(2025, 7, 1), date(2025, 9, 15))] = 0.0028
        churn_base[days >= epoch_day(date(2025, 10, 25))] = 0.0009
        churn_wave = np.where(_between(days, date(2025, 9, 24), date(2025, 10, 24)), 0.0075, 0.0)
        return cls(
            origin,
            Curve.of(origin, tickets),
            Curve.of(origin, regression),
            Curve.of(origin, churn_base),
            Curve.of(origin, churn_wave),
        )
