"""The source contract of `shared/spec/sources.md`, as data.

One definition serves every consumer: the warehouse DDL, the extract's casts and row checks, the Great Expectations
suites and the tests. Table order is load order: reference tables come before the tables that reference them.

The row rules (`allowed`, `min_value`/`max_value`, `pattern`, `not_before`, and no timestamp column later than the
load time plus SA_FUTURE_TOLERANCE_HOURS) are enforced as the file loads: a row that breaks one is quarantined and
never lands (include/ingest/checks.py). The validation gate checks them again on what landed (defence in depth).
"""

from __future__ import annotations

from dataclasses import dataclass, field

# The landing zone's first folder, everything up to the first daily delivery (shared/spec/sources.md), and the
# batch id its load carries.
HISTORY = "history"

# The audit columns every landed row carries: the batch that wrote its current version and that load's start time.
# The landed file is not repeated on every row (it was a third of a login row's bytes): it is the load log's
# `audit.load_batches.source_file` for (`_batch_id`, table).
AUDIT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("_batch_id", "text"),
    ("_loaded_at", "timestamptz"),
)
# The audit columns' defaults read these session settings: a row inserted without audit values takes the session's
# batch and load time (and fails without them). The loader names both on every row it writes; the first load's COPY
# sets the defaults to its constants for the duration of the COPY (bootstrap.audit_defaults_ddl).
AUDIT_SETTINGS: dict[str, str] = {"_batch_id": "sa.batch_id", "_loaded_at": "sa.loaded_at"}


@dataclass(frozen=True)
class Column:
    name: str
    pg_type: str
    required: bool = True
    allowed: tuple[str, ...] = ()
    references: str | None = None  # "<table>.<column>"
    min_value: float | None = None
    max_value: float | None = None
    pattern: str | None = None  # a regular expression (PostgreSQL `~`) every value must match
    max_length: int | None = None  # characters; every text column has one (a longer value is quarantined)


@dataclass(frozen=True)
class Table:
    name: str
    primary_key: str
    columns: tuple[Column, ...]
    pii: tuple[str, ...] = field(default=())
    freshness_column: str | None = "updated_at"
    # (a, b): when both are set, a is never before b (e.g. a ticket is resolved at or after its creation)
    not_before: tuple[tuple[str, str], ...] = field(default=())

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def limited(self) -> tuple[Column, ...]:
        """The columns with a maximum length."""
        return tuple(c for c in self.columns if c.max_length is not None)

    @property
    def timestamps(self) -> tuple[Column, ...]:
        """The timestamp columns: none may be later than the load time plus SA_FUTURE_TOLERANCE_HOURS."""
        return tuple(c for c in self.columns if c.pg_type == "timestamptz")

    @property
    def foreign_keys(self) -> tuple[Column, ...]:
        return tuple(c for c in self.columns if c.references)


SEGMENTS = ("Standard", "Premium", "Business", "Student")
CHANNELS = ("app", "web", "phone", "email", "chat")
PRIORITIES = ("low", "medium", "high", "urgent")
STATUSES = ("open", "in_progress", "resolved", "closed")
SEVERITIES = ("low", "medium", "high", "critical")
DEVICES = ("ios", "android", "web")


# Longest text the contract accepts, in characters. Generous (the simulator's values are a fraction of these): a
# longer value is a source defect — a runaway free-text field, a file shifted by a stray delimiter — and its row is
# quarantined with the column and the length, never the value (names, e-mails and phones are PII).
ID_LENGTH = 64
CODE_LENGTH = 32  # enumerations (segments, channels, …), versions
NAME_LENGTH = 200
EMAIL_LENGTH = 254  # RFC 5321's longest path
PHONE_LENGTH = 32
SUBJECT_LENGTH = 1000

# Something@something.something, no spaces: the retention team mails these; a name or a phone number in the e-mail
# column is a source defect the gate names (without quoting it: e-mails are PII).
EMAIL_PATTERN = r"^[^@ ]+@[^@ ]+[.][^@ ]+$"


def _c(name: str, pg_type: str, **kwargs: object) -> Column:
    return Column(name, pg_type, **kwargs)  # type: ignore[arg-type]


TABLES: tuple[Table, ...] = (
    Table(
        "customers",
        "customer_id",
        (
            _c("customer_id", "text", max_length=ID_LENGTH),
            _c("customer_name", "text", max_length=NAME_LENGTH),
            _c("email", "text", pattern=EMAIL_PATTERN, max_length=EMAIL_LENGTH),
            _c("phone", "text", required=False, max_length=PHONE_LENGTH),
            _c("customer_segment", "text", allowed=SEGMENTS, max_length=CODE_LENGTH),
            _c("city", "text", max_length=NAME_LENGTH),
            _c("signup_date", "date"),
            _c("updated_at", "timestamptz"),
        ),
        pii=("customer_name", "email", "phone"),
    ),
    Table(
        "products",
        "product_id",
        (
            _c("product_id", "text", max_length=ID_LENGTH),
            _c("product_name", "text", max_length=NAME_LENGTH),
            _c("product_category", "text", max_length=NAME_LENGTH),
            _c("product_type", "text", max_length=NAME_LENGTH),
            _c("monthly_fee", "numeric(12,2)", min_value=0),
            _c("launched_at", "date"),
            _c("updated_at", "timestamptz"),
        ),
    ),
    Table(
        "ticket_categories",
        "category_id",
        (
            _c("category_id", "text", max_length=ID_LENGTH),
            _c("category_name", "text", max_length=NAME_LENGTH),
            _c("updated_at", "timestamptz"),
        ),
    ),
    Table(
        "root_causes",
        "root_cause_id",
        (
            _c("root_cause_id", "text", max_length=ID_LENGTH),
            _c("root_cause_name", "text", max_length=NAME_LENGTH),
            _c("severity", "text", allowed=SEVERITIES, max_length=CODE_LENGTH),
            _c("related_release", "text", required=False, max_length=CODE_LENGTH),
            _c("updated_at", "timestamptz"),
        ),
    ),
    Table(
        "customer_products",
        "holding_id",
        (
            _c("holding_id", "text", max_length=ID_LENGTH),
            _c("customer_id", "text", references="customers.customer_id", max_length=ID_LENGTH),
            _c("product_id", "text", references="products.product_id", max_length=ID_LENGTH),
            _c("opened_at", "date"),
            _c("closed_at", "date", required=False),
            _c("monthly_revenue", "numeric(12,2)", min_value=0),
            _c("updated_at", "timestamptz"),
        ),
    ),
    Table(
        "support_tickets",
        "ticket_id",
        (
            _c("ticket_id", "text", max_length=ID_LENGTH),
            _c("customer_id", "text", references="customers.customer_id", max_length=ID_LENGTH),
            _c("product_id", "text", references="products.product_id", max_length=ID_LENGTH),
            _c("category_id", "text", references="ticket_categories.category_id", max_length=ID_LENGTH),
            _c("root_cause_id", "text", required=False, references="root_causes.root_cause_id",
               max_length=ID_LENGTH),
            _c("channel", "text", allowed=CHANNELS, max_length=CODE_LENGTH),
            _c("priority", "text", allowed=PRIORITIES, max_length=CODE_LENGTH),
            _c("status", "text", allowed=STATUSES, max_length=CODE_LENGTH),
            _c("subject", "text", required=False, max_length=SUBJECT_LENGTH),
            _c("app_version", "text", required=False, max_length=CODE_LENGTH),
            _c("created_at", "timestamptz"),
            _c("first_response_at", "timestamptz", required=False),
            _c("resolved_at", "timestamptz", required=False),
            _c("resolution_time_hours", "numeric", required=False, min_value=0),
            _c("satisfaction_score", "integer", required=False, min_value=1, max_value=5),
            _c("updated_at", "timestamptz"),
        ),
        not_before=(("resolved_at", "created_at"), ("first_response_at", "created_at")),
    ),
    Table(
        "customer_logins",
        "login_id",
        (
            _c("login_id", "text", max_length=ID_LENGTH),
            _c("customer_id", "text", references="customers.customer_id", max_length=ID_LENGTH),
            _c("login_at", "timestamptz"),
            _c("device", "text", allowed=DEVICES, max_length=CODE_LENGTH),
            _c("app_version", "text", required=False, max_length=CODE_LENGTH),
        ),
        freshness_column="login_at",
    ),
)

TABLES_BY_NAME: dict[str, Table] = {t.name: t for t in TABLES}


def table(name: str) -> Table:
    try:
        return TABLES_BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown source table {name!r}; the contract has {sorted(TABLES_BY_NAME)}") from None
