"""The Great Expectations file project in `great_expectations/`: opened, and completed where something is missing.

Everything GX keeps (datasource, assets, batch definitions, suites, validation definitions, checkpoints) is
committed; `ensure_project()` only creates what is missing and updates a suite in place when the contract changed —
never re-adding, because GX gives every re-added object a new id. The connection string is `${SA_GX_WAREHOUSE_URL}`,
substituted from the environment at run time, so no secret is written to the project.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from include import contract
from include.config import SCHEMA_SOURCES, Settings, get_settings, role_password
from include.quality import suites

if TYPE_CHECKING:
    from great_expectations.data_context import FileDataContext

DATASOURCE = "warehouse"
CONNECTION_VAR = "SA_GX_WAREHOUSE_URL"
SCOPES = ("batch", "table")


def gx_connection_url(settings: Settings) -> str:
    """SQLAlchemy URL of the warehouse as the loader role (it owns `analytics`; GX only reads)."""
    parts = settings.connection_parts()
    role = settings.roles.loader
    from urllib.parse import quote

    return (f"postgresql+psycopg2://{quote(role, safe='')}:{quote(role_password(role, settings), safe='')}"
            f"@{parts['host']}:{parts['port']}/{parts['dbname']}")


def open_context(settings: Settings | None = None) -> FileDataContext:
    """The file context rooted at `great_expectations/` (not GX's default `gx/`), with the connection in env."""
    settings = settings or get_settings()
    os.environ[CONNECTION_VAR] = gx_connection_url(settings)
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx

    return gx.get_context(mode="file", context_root_dir=str(settings.gx_root))


def _datasource(context: FileDataContext) -> Any:
    try:
        return context.data_sources.get(DATASOURCE)
    except KeyError:
        return context.data_sources.add_postgres(name=DATASOURCE, connection_string="${" + CONNECTION_VAR + "}")


def _asset(datasource: Any, table: contract.Table) -> Any:
    try:
        return datasource.get_asset(table.name)
    except LookupError:
        return datasource.add_table_asset(name=table.name, table_name=table.name, schema_name=SCHEMA_SOURCES)


def _batch_definition(asset: Any, scope: str) -> Any:
    try:
        return asset.get_batch_definition(scope)
    except KeyError:
        pass
    if scope == "table":
        return asset.add_batch_definition_whole_table(scope)
    from great_expectations.core.partitioners import PartitionerColumnValue

    # GX validates only date partitioners; a column-value partitioner on `_batch_id` works for SQL assets.
    return asset.add_batch_definition(scope, partitioner=PartitionerColumnValue(column_name="_batch_id"),
                                      validate_partitioner=False)


def _expectations(configs: list[dict[str, Any]]) -> list[Any]:
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    return [
        ExpectationConfiguration(type=c["type"], kwargs=c["kwargs"], meta=c.get("meta")).to_domain_obj()
        for c in configs
    ]


def _comparable(expectations: list[Any]) -> list[tuple[str, str, str]]:
    import json

    out = []
    for exp in expectations:
        config = exp.configuration
        out.append((config.type, json.dumps(config.kwargs, sort_keys=True, default=str),
                    json.dumps(config.meta or {}, sort_keys=True, default=str)))
    return sorted(out)


def _suite(context: FileDataContext, table: contract.Table, scope: str) -> Any:
    import great_expectations as gx

    name = suites.suite_name(table.name, scope)
    configs = suites.batch_expectations(table) if scope == "batch" else suites.table_expectations(table)
    wanted = _expectations(configs)
    try:
        suite = context.suites.get(name)
    except Exception:  # GX raises DataContextError subclasses for a missing suite
        suite = context.suites.add(gx.ExpectationSuite(name=name))
    if _comparable(suite.expectations) != _comparable(wanted):
        suite.expectations = []
        for exp in wanted:
            suite.add_expectation(exp)
        suite.save()
    return suite


def _validation_definition(context: FileDataContext, name: str, batch_definition: Any, suite: Any) -> Any:
    import great_expectations as gx

    try:
        return context.validation_definitions.get(name)
    except Exception:  # missing
        return context.validation_definitions.add(gx.ValidationDefinition(name=name, data=batch_definition,
                                                                          suite=suite))


def checkpoint_name(table: str, scope: str) -> str:
    """One checkpoint per table and scope: GX passes a run's batch parameters to every definition of a checkpoint,
    and the whole-table batch definition accepts none."""
    return f"{table}.{scope}"


def _checkpoint(context: FileDataContext, name: str, definition: Any) -> Any:
    import great_expectations as gx

    try:
        return context.checkpoints.get(name)
    except Exception:  # missing
        # No data-docs action: `validate.validate_batch` builds the docs once, for just the new results.
        return context.checkpoints.add(gx.Checkpoint(
            name=name,
            validation_definitions=[definition],
            actions=[],
            result_format={"result_format": "SUMMARY", "partial_unexpected_count": 5},
        ))


def ensure_project(settings: Settings | None = None) -> FileDataContext:
    """Open the project and create whatever of it is missing (needs the warehouse: GX checks the tables exist)."""
    context = open_context(settings)
    datasource = _datasource(context)
    for table in contract.TABLES:
        asset = _asset(datasource, table)
        for scope in SCOPES:
            batch_definition = _batch_definition(asset, scope)
            suite = _suite(context, table, scope)
            name = suites.suite_name(table.name, scope)
            definition = _validation_definition(context, name, batch_definition, suite)
            _checkpoint(context, checkpoint_name(table.name, scope), definition)
    return context
