"""Turn simulated arrays into the text columns of each source table.

One function per table, each given the routed (entity, version) pairs of a chunk. Versions matter for the
changing tables: a customer's segment after a change, a holding's closed_at, a ticket's status and the
fields that fill in as it progresses.
"""

from __future__ import annotations

import itertools

import numpy as np
import pyarrow as pa

from . import arrow
from . import formatting as fmt
from . import tickets as tk
from . import world as w
from .activity import Logins, Timeline
from .catalog import CATEGORIES, PRODUCTS, ROOT_CAUSES
from .population import N_SLOTS, Population
from .routing import Routed, Window, route_events, route_versions
from .vocab import CITIES, FIRST_NAMES, LAST_NAMES

Piece = dict[str, pa.Array]

CUSTOMER_ID_WIDTH = 8
HOLDING_ID_WIDTH = 9
TICKET_ID_WIDTH = 9
LOGIN_ID_WIDTH = 10
TICKET_IDS_PER_CHUNK = 1_000_000
LOGIN_IDS_PER_CHUNK = 20_000_000
"""Ticket and login ids are `chunk * block size + sequence`: stable, unique, and wide enough for scale 1000."""

PRODUCT_IDS = tuple(p.product_id for p in PRODUCTS)
CATEGORY_IDS = tuple(c.category_id for c in CATEGORIES)
CAUSE_IDS = tuple(r.root_cause_id for r in ROOT_CAUSES)
SATISFACTION = ("1", "2", "3", "4", "5")
_EMAIL_FIRST = tuple(n.lower().replace("'", "") for n in FIRST_NAMES)
_EMAIL_LAST = tuple(n.lower().replace("'", "") for n in LAST_NAMES)


def seconds(days: np.ndarray) -> np.ndarray:
    """Float days to epoch seconds; infinite (never) becomes the NEVER sentinel."""
    finite = np.isfinite(days)
    return np.where(finite, np.floor(np.where(finite, days, 0.0) * w.DAY_SECONDS), w.NEVER).astype(np.int64)


def customer_ids(pop: Population, owner: np.ndarray) -> pa.StringArray:
    return fmt.ids("C", pop.number[owner], CUSTOMER_ID_WIDTH)


def customers(pop: Population, window: Window) -> tuple[Routed, Piece]:
    events = np.stack([seconds(pop.signup_day), seconds(pop.segment_change_day)], axis=1)
    routed = route_versions(events, window)
    i, v = routed.entity, routed.version
    number = pop.number[i]
    first, last = pop.first_name[i], pop.last_name[i]
    piece = {
        "customer_id": customer_ids(pop, i),
        "customer_name": fmt.join(fmt.pick(FIRST_NAMES, first), " ", fmt.pick(LAST_NAMES, last)),
        "email": fmt.join(
            fmt.pick(_EMAIL_FIRST, first),
            ".",
            fmt.pick(_EMAIL_LAST, last),
            arrow.ints(number).cast(pa.string()),
            "@example.com",
        ),
        "phone": fmt.join(
            "+1-", fmt.pick([c[1] for c in CITIES], pop.city[i]), "-555-", fmt.ids("", pop.phone_digits[i], 4)
        ),
        "customer_segment": fmt.pick(w.SEGMENTS, np.where(v == 1, pop.new_segment[i], pop.segment[i])),
        "city": fmt.pick([c[0] for c in CITIES], pop.city[i]),
        "signup_date": fmt.dates(events[i, 0] // w.DAY_SECONDS),
        "updated_at": fmt.timestamps(events[i, v]),
    }
    return routed, piece


def holdings(pop: Population, window: Window) -> tuple[Routed, Piece]:
    opened = seconds(pop.open_day.reshape(-1))
    closed = seconds(pop.close_day.reshape(-1))
    routed = route_versions(np.stack([opened, closed], axis=1), window)
    h, v = routed.entity, routed.version
    owner, slot = np.divmod(h, N_SLOTS)
    piece = {
        "holding_id": fmt.ids("H", (pop.number[owner] - 1) * N_SLOTS + slot + 1, HOLDING_ID_WIDTH),
        "customer_id": customer_ids(pop, owner),
        "product_id": fmt.pick(PRODUCT_IDS, pop.product.reshape(-1)[h]),
        "opened_at": fmt.dates(opened[h] // w.DAY_SECONDS),
        "closed_at": fmt.dates(np.where(v == 1, closed[h], 0) // w.DAY_SECONDS, v == 1),
        "monthly_revenue": fmt.money(pop.revenue.reshape(-1)[h]),
        "updated_at": fmt.timestamps(np.where(v == 1, closed[h], opened[h])),
    }
    return routed, piece


def tickets(timeline: Timeline, chunk: int, window: Window) -> tuple[Routed, Piece]:
    t = timeline.tickets
    routed = route_versions(t.events, window)
    i, v = routed.entity, routed.version
    events = t.events[i]
    resolved = v >= 2
    hundredths = np.round((events[:, 2] - events[:, 0]) * 100 / 3600).astype(np.int64)
    piece = {
        "ticket_id": fmt.ids("T", chunk * TICKET_IDS_PER_CHUNK + i + 1, TICKET_ID_WIDTH),
        "customer_id": customer_ids(timeline.population, t.owner[i]),
        "product_id": fmt.pick(PRODUCT_IDS, t.product[i]),
        "category_id": fmt.pick(CATEGORY_IDS, t.category[i]),
        "root_cause_id": fmt.pick(CAUSE_IDS, t.cause[i]),
        "channel": fmt.pick(tk.CHANNELS, t.channel[i]),
        "priority": fmt.pick(tk.PRIORITIES, t.priority[i]),
        "status": fmt.pick(tk.STATUSES, v),
        "subject": fmt.pick(tk.SUBJECTS, t.subject[i]),
        "app_version": fmt.pick(w.APP_VERSIONS, t.app_version[i]),
        "created_at": fmt.timestamps(events[:, 0]),
        "first_response_at": fmt.timestamps(events[:, 1], v >= 1),
        "resolved_at": fmt.timestamps(events[:, 2], resolved),
        "resolution_time_hours": fmt.money(hundredths, resolved),
        "satisfaction_score": fmt.pick(
            SATISFACTION, np.where(resolved & (t.satisfaction[i] > 0), t.satisfaction[i] - 1, -1)
        ),
        "updated_at": fmt.timestamps(events[np.arange(len(i)), v]),
    }
    return routed, piece


def logins(timeline: Timeline, chunk: int, window: Window) -> tuple[Routed, Piece]:
    lg: Logins = timeline.logins
    routed = route_events(lg.at, window)
    i = routed.entity
    piece = {
        "login_id": fmt.ids("L", chunk * LOGIN_IDS_PER_CHUNK + i + 1, LOGIN_ID_WIDTH),
        "customer_id": customer_ids(timeline.population, lg.owner[i]),
        "login_at": fmt.timestamps(lg.at[i]),
        "device": fmt.pick(w.DEVICES, lg.device[i]),
        "app_version": fmt.pick(w.APP_VERSIONS, lg.app_version[i]),
    }
    return routed, piece


def split(routed: Routed, piece: Piece, n_folders: int) -> list[Piece]:
    """One piece per folder position (zero-copy slices)."""
    bounds = routed.bounds(n_folders)
    return [
        {name: col.slice(int(lo), int(hi - lo)) for name, col in piece.items()} for lo, hi in itertools.pairwise(bounds)
    ]
