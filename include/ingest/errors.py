"""Load errors. Each message names the batch, file, table and column or line, so an alert is actionable as is."""


class LoadError(RuntimeError):
    """Base class: the batch (or one table of it) was not loaded; nothing partial was written."""


class IncompleteBatch(LoadError):
    """The landing folder or its `_manifest.json` is missing: the source system has not finished delivering."""


class ManifestMismatch(LoadError):
    """A file does not match its manifest entry (sha256, row count) or the manifest lists an unexpected file."""


class SchemaDrift(LoadError):
    """A file's header does not match the source contract (missing, renamed or extra columns)."""


class QuarantineThresholdExceeded(LoadError):
    """More rows were quarantined than the configured threshold allows."""
