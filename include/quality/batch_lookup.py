"""How the gate finds one batch's rows: by its `_batch_id`, not by listing every batch of the table first.

Asked for the batch `{"_batch_id": "2025-11-03"}` of a table asset partitioned by column value, Great Expectations
1.x first lists every batch the table holds — `select distinct(_batch_id) from analytics.<table> order by _batch_id`,
a scan of every row — and then keeps the one asked for. That is the whole table on every night's gate, for every
table: 1.3 s of the 17M logins at scale 100 (~1.9 s for the seven tables), the full 15 GB of them at scale 1000,
for a batch of a few hundred thousand rows. GX has no setting for it (great_expectations issues #4965, #8797).

`install()` (called by `include.quality.project.open_context`) replaces that lookup for a request that names its
column value: the batch is the request itself when one row carries the value (`select 1 … where _batch_id = …
limit 1`, the `_batch_id` index), none otherwise — so GX raises NoAvailableBatchesError for a batch with no row, as
it did (the gate reports it as "0 rows with _batch_id=…", include/quality/validate.py). Any other request (another
partitioner, no value given) goes to GX's own lookup. What it relies on, checked by `assumptions_hold()`:
- G1 `great_expectations.datasource.fluent.sql_datasource._SQLAsset._fully_specified_batch_requests(self,
  batch_request)` returns `(requests, _NoMatchDiagnostics(candidate_count, offending_param))`, and both
  `get_batch` and `get_batch_identifiers_list` go through it;
- G2 `SqlPartitionerColumnValue` (what `PartitionerColumnValue` becomes for a SQL asset, via
  `get_partitioner_implementation`) names its column `column_name`; the request's `options` carry the value under it;
- G3 the asset's `as_selectable()` and its execution engine's `execute_query()` run a SQLAlchemy select.
"""

from __future__ import annotations

import inspect
from typing import Any


def install() -> None:
    """Make SQL assets look a column-value batch up by its value (idempotent)."""
    from great_expectations.datasource.fluent import sql_datasource as gx_sql

    gx_lookup = _gx_lookup(gx_sql)
    if gx_sql._SQLAsset._fully_specified_batch_requests is not gx_lookup:
        return  # installed already

    def fully_specified_batch_requests(asset: Any, batch_request: Any) -> tuple[list[Any], Any]:
        column = _requested_column(asset, batch_request, gx_sql)
        if column is None:
            return gx_lookup(asset, batch_request)  # type: ignore[no-any-return]
        found = _has_rows(asset, column, batch_request.options[column])
        return ([batch_request] if found else []), gx_sql._NoMatchDiagnostics(candidate_count=int(found),
                                                                               offending_param=None)

    fully_specified_batch_requests.__wrapped__ = gx_lookup  # type: ignore[attr-defined]
    gx_sql._SQLAsset._fully_specified_batch_requests = fully_specified_batch_requests  # type: ignore[method-assign]


def _gx_lookup(gx_sql: Any) -> Any:
    """GX's own `_fully_specified_batch_requests` (G1), installed or not."""
    current = gx_sql._SQLAsset._fully_specified_batch_requests
    return getattr(current, "__wrapped__", current)


def _requested_column(asset: Any, batch_request: Any, gx_sql: Any) -> str | None:
    """The partition column when the request is for one value of a column-value partitioner, else None."""
    if batch_request.partitioner is None:
        return None
    partitioner = asset.get_partitioner_implementation(batch_request.partitioner)
    if not isinstance(partitioner, gx_sql.SqlPartitionerColumnValue):  # G2
        return None
    column: str = partitioner.column_name
    return column if (batch_request.options or {}).get(column) is not None else None


def _has_rows(asset: Any, column: str, value: Any) -> bool:
    """Does a row of the asset carry `value` in `column`? One row, through the column's index."""
    import sqlalchemy as sa

    query = sa.select(sa.literal(1)).select_from(asset.as_selectable()).where(sa.column(column) == value).limit(1)
    return asset.datasource.get_execution_engine().execute_query(query).first() is not None  # G3


def assumptions_hold() -> bool:
    """G1–G3 on the installed Great Expectations (tests/unit/test_gx_batch_lookup.py)."""
    from great_expectations.datasource.fluent import sql_datasource as gx_sql
    from great_expectations.execution_engine.sqlalchemy_execution_engine import SqlAlchemyExecutionEngine

    callers = (gx_sql._SQLAsset.get_batch, gx_sql._SQLAsset.get_batch_identifiers_list)
    return (list(inspect.signature(_gx_lookup(gx_sql)).parameters) == ["self", "batch_request"]
            and all("self._fully_specified_batch_requests(batch_request)" in inspect.getsource(f) for f in callers)
            and gx_sql._NoMatchDiagnostics._fields == ("candidate_count", "offending_param")
            and "column_name" in gx_sql.SqlPartitionerColumnValue.__fields__
            and callable(getattr(gx_sql.TableAsset, "as_selectable", None))
            and callable(getattr(SqlAlchemyExecutionEngine, "execute_query", None)))
