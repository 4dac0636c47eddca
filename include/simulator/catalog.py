"""The fintech's fixed catalogue: products, ticket categories and root causes.

These rows are small and hand-written on purpose: the analytics questions name them ('Digital Lending',
'Premium', related_release 'v1.2'), so they must exist verbatim. Each entry also carries the knobs the
simulation needs (how often a product is held, which root causes a category has), kept beside the row so a
new product or cause is one line.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime


@dataclass(frozen=True)
class Product:
    product_id: str
    name: str
    category: str
    product_type: str
    monthly_fee_cents: int
    launched_at: date
    holding_weight: float
    """Relative chance a customer holds it."""
    revenue_cents: int
    """Typical monthly revenue of one holding."""


@dataclass(frozen=True)
class Category:
    category_id: str
    name: str


@dataclass(frozen=True)
class RootCause:
    root_cause_id: str
    name: str
    severity: str
    related_release: str | None
    category_id: str
    weight: float
    """Relative frequency within its category (baseline) or among v1.2 regressions."""
    product_type: str | None = None
    """v1.2 regressions only: the product type the fault lives in (None = any product)."""
    in_use: bool = True
    """False for causes added late to the catalogue that no ticket references yet."""


PRODUCT_TYPES: tuple[str, ...] = ("Digital Lending", "Savings", "Cards", "Payments", "Investments")

PRODUCTS: tuple[Product, ...] = (
    Product("P001", "Instant Personal Loan", "Lending", "Digital Lending", 0, date(2021, 3, 1), 0.10, 2800),
    Product("P002", "Pay Later", "Lending", "Digital Lending", 0, date(2022, 5, 16), 0.09, 950),
    Product("P003", "Salary Advance", "Lending", "Digital Lending", 299, date(2023, 9, 4), 0.04, 600),
    Product("P004", "Easy Saver", "Deposits", "Savings", 0, date(2019, 3, 4), 0.15, 320),
    Product("P005", "Fixed Term Deposit", "Deposits", "Savings", 0, date(2020, 6, 1), 0.05, 410),
    Product("P006", "Debit Card", "Cards", "Cards", 0, date(2019, 3, 4), 0.17, 450),
    Product("P007", "Premium Credit Card", "Cards", "Cards", 799, date(2021, 10, 11), 0.07, 1600),
    Product("P008", "Instant Transfers", "Payments", "Payments", 0, date(2019, 3, 4), 0.16, 180),
    Product("P009", "Bill Pay", "Payments", "Payments", 0, date(2022, 2, 7), 0.08, 120),
    Product("P010", "Robo Investing", "Wealth", "Investments", 499, date(2023, 3, 20), 0.05, 1100),
    Product("P011", "Crypto Wallet", "Wealth", "Investments", 199, date(2025, 6, 2), 0.04, 650),
)

CATEGORIES: tuple[Category, ...] = (
    Category("TC01", "Login & Access"),
    Category("TC02", "Payments"),
    Category("TC03", "Loan Application"),
    Category("TC04", "Cards"),
    Category("TC05", "KYC"),
    Category("TC06", "App Performance"),
    Category("TC07", "Account Management"),
    Category("TC08", "Fraud"),
)

ROOT_CAUSES: tuple[RootCause, ...] = (
    RootCause("RC001", "Password reset email not received", "low", None, "TC01", 3.0),
    RootCause("RC002", "OTP SMS delayed", "medium", None, "TC01", 2.0),
    RootCause("RC003", "Account locked after failed attempts", "medium", None, "TC01", 2.0),
    RootCause("RC004", "Payment stuck in pending", "high", None, "TC02", 3.0),
    RootCause("RC005", "Incorrect transfer fee charged", "medium", None, "TC02", 2.0),
    RootCause("RC006", "Credit check service timeout", "high", None, "TC03", 2.0),
    RootCause("RC007", "Document upload rejected", "medium", None, "TC03", 3.0),
    RootCause("RC008", "Card declined at merchant", "medium", None, "TC04", 3.0),
    RootCause("RC009", "Card delivery delayed", "low", None, "TC04", 2.0),
    RootCause("RC010", "ID verification failed", "medium", None, "TC05", 3.0),
    RootCause("RC011", "Proof of address not accepted", "low", None, "TC05", 2.0),
    RootCause("RC012", "App crash on older Android devices", "medium", "v1.1", "TC06", 2.0),
    RootCause("RC013", "Slow dashboard loading", "low", "v1.1", "TC06", 2.0),
    RootCause("RC014", "Statement download fails", "low", None, "TC07", 2.0),
    RootCause("RC015", "Profile changes not saved", "low", None, "TC07", 2.0),
    RootCause("RC016", "Suspicious transaction flagged", "high", None, "TC08", 3.0),
    RootCause("RC017", "Unauthorised card use", "critical", None, "TC08", 1.0),
    RootCause("RC018", "Biometric login loop after update", "high", "v1.2", "TC01", 0.15),
    RootCause("RC019", "Payment confirmation timeout", "critical", "v1.2", "TC02", 0.30, "Payments"),
    RootCause("RC020", "Loan application crashes on submit", "critical", "v1.2", "TC03", 0.25, "Digital Lending"),
    RootCause("RC021", "Repayment schedule miscalculated", "high", "v1.2", "TC03", 0.15, "Digital Lending"),
    RootCause("RC022", "Balance screen freezes after transfer", "high", "v1.2", "TC06", 0.15, "Payments"),
    RootCause("RC023", "Push notifications delayed", "low", None, "TC06", 0.0, in_use=False),
)

BASELINE_CAUSES: tuple[RootCause, ...] = tuple(r for r in ROOT_CAUSES if r.related_release != "v1.2" and r.in_use)
V12_CAUSES: tuple[RootCause, ...] = tuple(r for r in ROOT_CAUSES if r.related_release == "v1.2")

REFERENCE_CREATED_AT = datetime(2024, 6, 3, 9, 0, tzinfo=UTC)
"""When categories and root causes were first entered; history_start may not precede it."""


@dataclass(frozen=True)
class CatalogueChange:
    """A dated edit to a reference table; the whole table is re-sent that day."""

    at: datetime
    table: str
    key: str
    field: str
    value: str | int


CATALOGUE_CHANGES: tuple[CatalogueChange, ...] = (
    CatalogueChange(datetime(2025, 11, 3, 10, 0, tzinfo=UTC), "products", "P007", "monthly_fee_cents", 899),
    CatalogueChange(datetime(2025, 11, 6, 14, 0, tzinfo=UTC), "ticket_categories", "TC08", "name", "Fraud & Security"),
)
"""Besides these, RC023 is added on 2025-11-05 and P011 appears on its launch date (see reference.py)."""

RC023_ADDED_AT = datetime(2025, 11, 5, 9, 30, tzinfo=UTC)
