"""One chunk of customers: who they are, what they hold, and when (if ever) they leave.

A customer's whole fate is drawn at once from the chunk's own stream: sign-up, segment change, app-update
delays, product holdings with their open/close dates, and the day they stop being active. Activity (logins,
tickets) is drawn later week by week (activity.py) but only *reads* this state, so the population is the
same whatever window is being written.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import world as w
from .catalog import PRODUCT_TYPES, PRODUCTS
from .rng import Stream, choice, choice_rows, stream
from .vocab import CITIES, FIRST_NAMES, LAST_NAMES

N_SLOTS = 3
"""A customer holds at most three products; holding ids are derived from (customer, slot)."""

PRODUCT_TYPE_INDEX: dict[str, int] = {name: i for i, name in enumerate(PRODUCT_TYPES)}
PRODUCT_TYPE_CODE = np.array([PRODUCT_TYPE_INDEX[p.product_type] for p in PRODUCTS])
PRODUCT_LAUNCH_DAY = np.array([w.epoch_day(p.launched_at) for p in PRODUCTS], dtype=np.float64)


@dataclass(frozen=True)
class Population:
    """Arrays indexed by position within the chunk; `number` is the global customer number (1-based)."""

    number: np.ndarray
    signup_day: np.ndarray
    active_from: np.ndarray
    churn_day: np.ndarray
    segment: np.ndarray
    new_segment: np.ndarray
    segment_change_day: np.ndarray
    city: np.ndarray
    first_name: np.ndarray
    last_name: np.ndarray
    phone_digits: np.ndarray
    device: np.ndarray
    login_rate: np.ndarray
    ticket_rate: np.ndarray
    exposed: np.ndarray
    adopt_day: np.ndarray
    """(n, 2): when the app updated to v1.1 and v1.2."""
    product: np.ndarray
    """(n, N_SLOTS) product index, -1 for an empty slot."""
    open_day: np.ndarray
    """(n, N_SLOTS) float days; inf when the holding never opens."""
    close_day: np.ndarray
    revenue: np.ndarray
    """(n, N_SLOTS) monthly revenue in hundredths."""

    def __len__(self) -> int:
        return len(self.number)

    def app_version_at(self, owner: np.ndarray, t: np.ndarray) -> np.ndarray:
        """Index into APP_VERSIONS of the app a customer ran at time t."""
        adopt = self.adopt_day[owner]
        return (t >= adopt[:, 0]).astype(np.int8) + (t >= adopt[:, 1]).astype(np.int8)


@dataclass(frozen=True)
class Sizing:
    """How many customers exist at a given scale; fixed by scale alone, never by the end date."""

    base: int
    arrivals: int

    @classmethod
    def at(cls, scale: float) -> Sizing:
        return cls(round(w.BASE_CUSTOMERS * scale), round(w.ARRIVALS_PER_DAY * w.ARRIVAL_WINDOW_DAYS * scale))

    @property
    def total(self) -> int:
        return self.base + self.arrivals

    def chunks(self) -> list[tuple[int, int]]:
        """(first index, stop index) of each chunk of customers."""
        step = w.CHUNK_CUSTOMERS
        return [(lo, min(lo + step, self.total)) for lo in range(0, self.total, step)]


def _signup_days(rng: np.random.Generator, index: np.ndarray, sizing: Sizing, origin: int) -> np.ndarray:
    """Sign-up days, increasing with the customer number (ids are issued in sign-up order).

    Pre-history customers are stratified over five years with more recent years busier; new ones arrive
    evenly over the two years from history_start.
    """
    u = rng.random(len(index))
    base = index < sizing.base
    span = 365.25 * w.PRE_HISTORY_SIGNUP_YEARS
    frac_base = np.clip((index + u) / max(sizing.base, 1), 0.0, 1.0)
    before = origin - span * (1.0 - frac_base) ** 1.6
    frac_new = (index - sizing.base + u) / max(sizing.arrivals, 1)
    after = origin + frac_new * w.ARRIVAL_WINDOW_DAYS
    return np.where(base, np.minimum(before, origin - 1e-6), after)


@dataclass(frozen=True)
class _HoldingDraws:
    """Random draws for holdings, taken before the churn date is known so exposure can depend on products."""

    product: np.ndarray
    planned_open: np.ndarray
    churn_delay: np.ndarray
    routine_life: np.ndarray
    close_u: np.ndarray
    revenue: np.ndarray


def _draw_holdings(rng: np.random.Generator, signup: np.ndarray) -> _HoldingDraws:
    n = len(signup)
    weights = np.array([p.holding_weight for p in PRODUCTS])
    keys = np.log(weights)[None, :] + rng.gumbel(size=(n, len(PRODUCTS)))
    launched_by_signup = PRODUCT_LAUNCH_DAY[None, :] <= signup[:, None]
    primary = np.argmax(np.where(launched_by_signup, keys, -np.inf), axis=1)
    keys[np.arange(n), primary] = -np.inf
    others = np.argsort(-keys, axis=1, kind="stable")[:, : N_SLOTS - 1]
    product = np.concatenate([primary[:, None], others], axis=1)
    count = choice(rng, w.HOLDINGS_PER_CUSTOMER, n) + 1
    product[np.arange(N_SLOTS)[None, :] >= count[:, None]] = -1

    later = signup[:, None] + rng.exponential(w.EXTRA_HOLDING_MEAN_DAYS, size=(n, N_SLOTS))
    planned = np.concatenate([signup[:, None], later[:, 1:]], axis=1)
    launch = PRODUCT_LAUNCH_DAY[np.maximum(product, 0)]
    planned = np.maximum(planned, launch + rng.random((n, N_SLOTS)) * 30.0 * (planned < launch))
    base_revenue = np.array([p.revenue_cents for p in PRODUCTS], dtype=np.float64)
    revenue = np.round(base_revenue[np.maximum(product, 0)] * rng.lognormal(0.0, 0.35, size=(n, N_SLOTS)))
    return _HoldingDraws(
        product=product,
        planned_open=planned,
        churn_delay=rng.random((n, N_SLOTS)) * 21.0,
        routine_life=30.0 + rng.random((n, N_SLOTS)) * 700.0,
        close_u=rng.random((n, N_SLOTS)),
        revenue=revenue.astype(np.int64),
    )


def _settle_holdings(draws: _HoldingDraws, churn: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Open/close days once the churn day is known: nothing opens after leaving; leavers close most products."""
    open_day = np.where((draws.product < 0) | (draws.planned_open >= churn[:, None]), np.inf, draws.planned_open)
    close_day = np.where(
        np.isfinite(churn)[:, None] & (draws.close_u < w.CHURN_CLOSE_SHARE),
        churn[:, None] + draws.churn_delay,
        np.where(draws.close_u > 1.0 - w.ROUTINE_CLOSE_SHARE, open_day + draws.routine_life, np.inf),
    )
    close_day = np.where(~np.isfinite(open_day) | (close_day <= open_day), np.inf, close_day)
    return open_day, close_day


def _churn_days(
    rng: np.random.Generator,
    cal: w.Calendar,
    signup: np.ndarray,
    start: np.ndarray,
    dormant: np.ndarray,
    wave_factor: np.ndarray,
) -> np.ndarray:
    """Day a customer stops being active: competing base and v1.2-wave hazards; dormant ones left pre-history."""
    e_base = rng.exponential(size=len(start))
    e_wave = rng.exponential(size=len(start))
    quiet_from = np.maximum(signup, start - 365.0)
    quiet = quiet_from + rng.random(len(start)) * (start - quiet_from)
    t_base = cal.churn_base.inverse(cal.churn_base.at(start) + e_base)
    t_wave = cal.churn_wave.inverse(cal.churn_wave.at(start) + e_wave / wave_factor)
    churn = np.minimum(t_base, t_wave)
    churn = np.where(churn > start + 365.0 * 50, np.inf, churn)
    return np.where(dormant, np.minimum(quiet, start - 1e-3), churn)


def build_population(seed: int, chunk: int, lo: int, hi: int, sizing: Sizing, cal: w.Calendar) -> Population:
    """Customers `lo`..`hi - 1` (0-based), drawn from the chunk's own stream."""
    rng = stream(seed, Stream.CUSTOMERS, chunk)
    cal_origin = cal.origin
    index = np.arange(lo, hi, dtype=np.int64)
    n = len(index)

    signup = _signup_days(rng, index, sizing, cal_origin)
    start = np.maximum(signup, cal_origin)
    segment = choice(rng, w.SEGMENT_WEIGHTS, n).astype(np.int8)
    city = choice(rng, np.array([c[2] for c in CITIES]), n).astype(np.int16)
    first_name = rng.integers(0, len(FIRST_NAMES), n).astype(np.int16)
    last_name = rng.integers(0, len(LAST_NAMES), n).astype(np.int16)
    phone_digits = rng.integers(0, 10_000, n)
    device = choice(rng, w.DEVICE_WEIGHTS, n).astype(np.int8)
    occasional = rng.random(n) < w.OCCASIONAL_SHARE
    regular = w.REGULAR_LOGINS_PER_DAY * rng.lognormal(0.0, w.REGULAR_LOGIN_SIGMA, n)
    login_rate = np.where(occasional, w.OCCASIONAL_LOGINS_PER_DAY, regular)
    sigma = w.TICKET_RATE_SIGMA
    ticket_rate = w.TICKETS_PER_DAY * w.SEGMENT_TICKET_FACTOR[segment] * rng.lognormal(-(sigma**2) / 2, sigma, n)

    adopt_v11 = np.maximum(w.epoch_day(w.RELEASE_V11), signup) + rng.exponential(w.ADOPTION_MEAN_DAYS, n)
    adopt_v12 = np.maximum(w.epoch_day(w.RELEASE_V12), signup) + rng.exponential(w.ADOPTION_MEAN_DAYS, n)
    adopt = np.stack([np.minimum(adopt_v11, adopt_v12), adopt_v12], axis=1)

    dormant = (index < sizing.base) & (rng.random(n) < w.DORMANT_SHARE)
    draws = _draw_holdings(rng, signup)
    exposed_type = np.isin(PRODUCT_TYPE_CODE, [PRODUCT_TYPE_INDEX[t] for t in w.EXPOSED_TYPES])
    exposed = (exposed_type[np.maximum(draws.product, 0)] & (draws.product >= 0)).any(axis=1) & (device != 2)
    wave_factor = np.where(exposed, w.WAVE_EXPOSED_FACTOR, w.WAVE_UNEXPOSED_FACTOR)
    churn = _churn_days(rng, cal, signup, start, dormant, wave_factor)
    open_day, close_day = _settle_holdings(draws, churn)

    changes = (rng.random(n) < w.SEGMENT_CHANGE_SHARE) & ~dormant
    window_end = cal_origin + w.ARRIVAL_WINDOW_DAYS
    change_day = np.where(changes & (start < window_end), start + rng.random(n) * (window_end - start), np.inf)
    new_segment = choice_rows(rng, w.SEGMENT_TRANSITIONS[segment]).astype(np.int8)

    return Population(
        number=index + 1,
        signup_day=signup,
        active_from=start,
        churn_day=churn,
        segment=segment,
        new_segment=new_segment,
        segment_change_day=change_day,
        city=city,
        first_name=first_name,
        last_name=last_name,
        phone_digits=phone_digits,
        device=device,
        login_rate=login_rate,
        ticket_rate=ticket_rate,
        exposed=exposed,
        adopt_day=adopt,
        product=draws.product,
        open_day=open_day,
        close_day=close_day,
        revenue=draws.revenue,
    )
