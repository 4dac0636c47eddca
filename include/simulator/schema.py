"""The landed tables as the source contract (`/work/shared/spec/sources.md`) fixes them.

Column order here *is* the CSV column order, so the extract can rely on it; nothing else in the simulator
names columns by position.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Table:
    """One source table: its primary key and its columns in contract order."""

    name: str
    primary_key: str
    columns: tuple[str, ...]


CUSTOMERS = Table(
    "customers",
    "customer_id",
    ("customer_id", "customer_name", "email", "phone", "customer_segment", "city", "signup_date", "updated_at"),
)
PRODUCTS = Table(
    "products",
    "product_id",
    ("product_id", "product_name", "product_category", "product_type", "monthly_fee", "launched_at", "updated_at"),
)
CUSTOMER_PRODUCTS = Table(
    "customer_products",
    "holding_id",
    ("holding_id", "customer_id", "product_id", "opened_at", "closed_at", "monthly_revenue", "updated_at"),
)
TICKET_CATEGORIES = Table("ticket_categories", "category_id", ("category_id", "category_name", "updated_at"))
ROOT_CAUSES = Table(
    "root_causes",
    "root_cause_id",
    ("root_cause_id", "root_cause_name", "severity", "related_release", "updated_at"),
)
SUPPORT_TICKETS = Table(
    "support_tickets",
    "ticket_id",
    (
        "ticket_id",
        "customer_id",
        "product_id",
        "category_id",
        "root_cause_id",
        "channel",
        "priority",
        "status",
        "subject",
        "app_version",
        "created_at",
        "first_response_at",
        "resolved_at",
        "resolution_time_hours",
        "satisfaction_score",
        "updated_at",
    ),
)
CUSTOMER_LOGINS = Table(
    "customer_logins",
    "login_id",
    ("login_id", "customer_id", "login_at", "device", "app_version"),
)

TABLES: tuple[Table, ...] = (
    CUSTOMERS,
    PRODUCTS,
    CUSTOMER_PRODUCTS,
    TICKET_CATEGORIES,
    ROOT_CAUSES,
    SUPPORT_TICKETS,
    CUSTOMER_LOGINS,
)
TABLE_NAMES: tuple[str, ...] = tuple(t.name for t in TABLES)
BY_NAME: dict[str, Table] = {t.name: t for t in TABLES}

REFERENCE_TABLES: frozenset[str] = frozenset({"products", "ticket_categories", "root_causes"})
"""Small tables the source re-sends whole whenever any row changes."""
