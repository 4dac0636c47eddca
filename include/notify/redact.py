"""Cut the values a database error quotes out of alert text, so an alert never carries a customer's data.

A dbt model that breaks a constraint fails with PostgreSQL's own words, which quote the data: `Failing row contains
(C00000042, Jane Doe, jane.doe42@example.com, …)`, `Key (email)=(jane.doe42@example.com) already exists`,
`invalid input syntax for type integer: "Jane"`. dbt passes them on (its node message, Cosmos' exception), and the
alert would send them by e-mail and chat. The Great Expectations gate withholds PII values itself
(`include.quality.suites.result_format`); this covers the errors nobody phrased for us. The structure stays — which
constraint, which columns — only the values go.
"""

from __future__ import annotations

import re

WITHHELD = "(values withheld)"

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # DETAIL:  Failing row contains (...).   — not-null / check violations: the whole row
    (re.compile(r"(Failing row contains )\(.*\)"), r"\1" + WITHHELD),
    # DETAIL:  Key (email)=(x@y) already exists. / is not present in table "t". / conflicts with existing key (...)
    (re.compile(r"(Key \([^)]*\))=\(.*?\)(?=( already exists| is not present| conflicts with|\.?$))", re.M),
     r"\1=" + WITHHELD),
    (re.compile(r"(conflicts with existing key \([^)]*\))=\(.*?\)(?=\.?$)", re.M), r"\1=" + WITHHELD),
    # invalid input syntax for type integer: "abc" / invalid input value for enum x: "abc"
    (re.compile(r'(invalid input (?:syntax|value) for [^:\n]+: )".*?"(?=\s|$)', re.M), r"\1" + '"…"'),
)


def redact(text: str | None) -> str | None:
    """`text` with every value a PostgreSQL error quotes replaced by a placeholder (None stays None)."""
    if not text:
        return text
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text
