"""Reference tables (products, ticket_categories, root_causes) as they stood at any moment.

The source re-sends a reference table whole on a day any of its rows changed, so the simulator needs two
questions answered: "what did the table look like at time T" and "on which days did it change". Both are
answered from a version list built once from the catalogue and its dated edits.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time
from functools import cache

from .catalog import (
    CATALOGUE_CHANGES,
    CATEGORIES,
    PRODUCTS,
    RC023_ADDED_AT,
    REFERENCE_CREATED_AT,
    ROOT_CAUSES,
    Category,
    Product,
    RootCause,
)


@dataclass(frozen=True)
class RefVersion:
    valid_from: datetime
    key: str
    values: tuple[str, ...]


def iso_ts(moment: datetime) -> str:
    """The one timestamp format of the landing zone: ISO-8601, seconds, explicit UTC offset."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def money(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) // 100}.{abs(cents) % 100:02d}"


def _product_values(p: Product, at: datetime) -> tuple[str, ...]:
    return (
        p.product_id,
        p.name,
        p.category,
        p.product_type,
        money(p.monthly_fee_cents),
        p.launched_at.isoformat(),
        iso_ts(at),
    )


def _category_values(c: Category, at: datetime) -> tuple[str, ...]:
    return (c.category_id, c.name, iso_ts(at))


def _cause_values(r: RootCause, at: datetime) -> tuple[str, ...]:
    return (r.root_cause_id, r.name, r.severity, r.related_release or "", iso_ts(at))


@cache
def reference_versions(table: str) -> tuple[RefVersion, ...]:
    """Every version of every row of one reference table, oldest first."""
    versions: list[RefVersion] = []
    if table == "products":
        for p in PRODUCTS:
            born = datetime.combine(p.launched_at, time(8, 0), tzinfo=UTC)
            versions.append(RefVersion(born, p.product_id, _product_values(p, born)))
            current = p
            for change in (c for c in CATALOGUE_CHANGES if c.table == table and c.key == p.product_id):
                current = replace(current, **{change.field: change.value})
                versions.append(RefVersion(change.at, p.product_id, _product_values(current, change.at)))
    elif table == "ticket_categories":
        for cat in CATEGORIES:
            versions.append(
                RefVersion(REFERENCE_CREATED_AT, cat.category_id, _category_values(cat, REFERENCE_CREATED_AT))
            )
            current_cat = cat
            for change in (c for c in CATALOGUE_CHANGES if c.table == table and c.key == cat.category_id):
                current_cat = replace(current_cat, **{change.field: change.value})
                versions.append(RefVersion(change.at, cat.category_id, _category_values(current_cat, change.at)))
    elif table == "root_causes":
        for cause in ROOT_CAUSES:
            born = REFERENCE_CREATED_AT if cause.in_use else RC023_ADDED_AT
            versions.append(RefVersion(born, cause.root_cause_id, _cause_values(cause, born)))
    else:
        raise ValueError(f"not a reference table: {table}")
    return tuple(sorted(versions, key=lambda v: (v.valid_from, v.key)))


def reference_rows(table: str, as_of: datetime) -> list[tuple[str, ...]]:
    """The whole table as it stood just before `as_of`, ordered by key."""
    latest: dict[str, tuple[str, ...]] = {}
    for version in reference_versions(table):
        if version.valid_from < as_of:
            latest[version.key] = version.values
    return [latest[k] for k in sorted(latest)]


def change_dates(table: str) -> frozenset[date]:
    """Days on which the table changed (a row was added or edited) and so is re-sent whole."""
    return frozenset(v.valid_from.date() for v in reference_versions(table))
