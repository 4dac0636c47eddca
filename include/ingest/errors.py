"""Load errors. Each message names the batch, file, table and column or line, so an alert is actionable as is.

Every `LoadError` is a refusal of the *input*: a retry would read the same bytes and fail the same way, so the
extract's tasks turn it into Airflow's `AirflowFailException` (`fail_at_once`): no retries, the alert at once.
Anything else (a dropped connection, a full disk) stays an ordinary exception and is retried.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


class LoadError(RuntimeError):
    """Base class: the batch (or one table of it) was not loaded; nothing partial was written."""


class IncompleteBatch(LoadError):
    """The landing folder or its `_manifest.json` is missing: the source system has not finished delivering."""


class BadBatchId(LoadError):
    """A batch id that is neither `history` nor a date YYYY-MM-DD (e.g. `../../etc`): it never names a folder."""


class ManifestMismatch(LoadError):
    """A file does not match its manifest entry (sha256, row count), the manifest lists an unexpected file, or an
    entry is unusable (a missing key, a row count that is not an integer, a path outside the landing folder)."""


class UnreadableFile(LoadError):
    """A file is not a complete gzip of UTF-8 text without NUL bytes (the message names the line and byte)."""


class SchemaDrift(LoadError):
    """A file's header does not match the source contract (a missing or repeated column)."""


class QuarantineThresholdExceeded(LoadError):
    """More rows were quarantined than the configured threshold allows."""


@contextmanager
def fail_at_once() -> Iterator[None]:
    """In an Airflow task: a LoadError fails the task without retries, as one line `<kind>: <message>`.

    The chained exception is dropped (`from None`): the message already names the file and the reason, and the
    task log would otherwise repeat a raw traceback of the library that choked on the input."""
    try:
        yield
    except LoadError as exc:
        from airflow.sdk.exceptions import AirflowFailException

        raise AirflowFailException(f"{type(exc).__name__}: {exc}") from None
