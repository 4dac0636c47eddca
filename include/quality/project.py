"""The Great Expectations file project in `great_expectations/`: opened, and brought in line with the code.

Everything GX keeps (datasource, assets, batch definitions, suites, validation definitions, checkpoints) is
committed, and this module is its one definition: `ensure_project()` (`sa gx-setup`) creates what is missing and
updates in place whatever differs from what `suites.py` and the contract want — never re-adding, because GX gives
every re-added object a new id. On the committed project it must change nothing; `tests/unit/test_gx_project.py`
runs it on a copy, without a database, and fails on any difference. The connection string is
`${SA_GX_WAREHOUSE_URL}`, substituted from the environment at run time, so no secret is written to the project.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any

from include import contract
from include.config import SCHEMA_SOURCES, Settings, get_settings
from include.quality import suites

if TYPE_CHECKING:
    from great_expectations.data_context import FileDataContext

DATASOURCE = "warehouse"
CONNECTION_VAR = "SA_GX_WAREHOUSE_URL"
SCOPES = ("batch", "table")
BATCH_COLUMN = "_batch_id"


class ProjectDrift(RuntimeError):
    """The project holds something `ensure_project` must not correct in place (an asset or batch definition edited
    by hand): re-adding it would give it, and everything wired to it, new ids."""


def gx_connection_url(settings: Settings) -> str:
    """SQLAlchemy URL of the warehouse as the loader role (it owns `analytics`; GX only reads): its Airflow
    Connection inside a task, else the settings (`include.warehouse.connections.role_params`)."""
    from include.warehouse.connections import params_url, role_params

    return params_url(role_params("loader", settings), scheme="postgresql+psycopg2")


def open_context(settings: Settings | None = None) -> FileDataContext:
    """The file context rooted at `great_expectations/` (not GX's default `gx/`), with the connection in env; a
    batch is looked up by its `_batch_id` (include/quality/batch_lookup.py), not by listing the table's batches."""
    settings = settings or get_settings()
    os.environ[CONNECTION_VAR] = gx_connection_url(settings)
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx
    from include.quality import batch_lookup

    batch_lookup.install()

    return gx.get_context(mode="file", context_root_dir=str(settings.gx_root))


def _datasource(context: FileDataContext) -> Any:
    try:
        return context.data_sources.get(DATASOURCE)
    except KeyError:
        return context.data_sources.add_postgres(name=DATASOURCE, connection_string="${" + CONNECTION_VAR + "}")


def _asset(datasource: Any, table: contract.Table) -> Any:
    try:
        asset = datasource.get_asset(table.name)
    except LookupError:
        return datasource.add_table_asset(name=table.name, table_name=table.name, schema_name=SCHEMA_SOURCES)
    if (asset.schema_name, asset.table_name) != (SCHEMA_SOURCES, table.name):
        raise ProjectDrift(f"GX asset {table.name!r} reads {asset.schema_name}.{asset.table_name}, not "
                           f"{SCHEMA_SOURCES}.{table.name}: correct it in great_expectations.yml")
    return asset


def _partitioner(scope: str) -> Any:
    """`batch`: the rows of one `_batch_id`; `table`: the whole table (no partitioner)."""
    if scope == "table":
        return None
    from great_expectations.core.partitioners import PartitionerColumnValue

    return PartitionerColumnValue(column_name=BATCH_COLUMN)


def _batch_definition(asset: Any, scope: str) -> Any:
    try:
        batch_definition = asset.get_batch_definition(scope)
    except KeyError:
        # GX validates only date partitioners; a column-value partitioner on `_batch_id` works for SQL assets.
        return asset.add_batch_definition(scope, partitioner=_partitioner(scope), validate_partitioner=False)
    if batch_definition.partitioner != _partitioner(scope):
        raise ProjectDrift(f"GX batch definition {asset.name}.{scope} partitions by {batch_definition.partitioner!r},"
                           f" not {_partitioner(scope)!r}: correct it in great_expectations.yml")
    return batch_definition


def _expectations(configs: list[dict[str, Any]]) -> list[Any]:
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    return [
        ExpectationConfiguration(type=c["type"], kwargs=c["kwargs"], meta=c.get("meta")).to_domain_obj()
        for c in configs
    ]


def _expectation_key(expectation: Any) -> str:
    """An expectation as GX writes it, without its id: two expectations with the same key are the same check."""
    config = expectation.configuration.to_json_dict()
    config.pop("id", None)
    return json.dumps(config, sort_keys=True)


def _replace_expectations(suite: Any, wanted: list[Any]) -> None:
    """Write `wanted`, in the code's order; an expectation that did not change keeps its id, so the committed diff of
    a contract change shows only the expectations it changed (GX's store gives the others new ids)."""
    ids: dict[str, list[str]] = {}
    for expectation in suite.expectations:
        ids.setdefault(_expectation_key(expectation), []).append(expectation.id)
    for expectation in wanted:
        kept = ids.get(_expectation_key(expectation))
        expectation.id = kept.pop(0) if kept else None
    suite.expectations = wanted
    suite.save()


def _suite(context: FileDataContext, table: contract.Table, scope: str) -> Any:
    from great_expectations.exceptions import DataContextError

    import great_expectations as gx

    name = suites.suite_name(table.name, scope)
    configs = suites.batch_expectations(table) if scope == "batch" else suites.table_expectations(table)
    wanted = _expectations(configs)
    try:
        suite = context.suites.get(name)
    except DataContextError:  # missing
        suite = context.suites.add(gx.ExpectationSuite(name=name))
    if [_expectation_key(e) for e in suite.expectations] != [_expectation_key(e) for e in wanted]:
        _replace_expectations(suite, wanted)
    return suite


def _validation_definition(context: FileDataContext, name: str, batch_definition: Any, suite: Any) -> Any:
    from great_expectations.exceptions import DataContextError

    import great_expectations as gx

    try:
        definition = context.validation_definitions.get(name)
    except DataContextError:  # missing
        return context.validation_definitions.add(gx.ValidationDefinition(name=name, data=batch_definition,
                                                                          suite=suite))
    if (definition.data.id, definition.suite.id) != (batch_definition.id, suite.id):
        definition.data, definition.suite = batch_definition, suite
        definition.save()
    return definition


def checkpoint_name(table: str, scope: str) -> str:
    """One checkpoint per table and scope: GX passes a run's batch parameters to every definition of a checkpoint,
    and the whole-table batch definition accepts none."""
    return f"{table}.{scope}"


def _checkpoint(context: FileDataContext, name: str, definition: Any, result_format: dict[str, Any]) -> Any:
    from great_expectations.exceptions import DataContextError

    import great_expectations as gx

    # No data-docs action: `validate.validate_batch` builds the docs once, for just the new results.
    wanted = gx.Checkpoint(name=name, validation_definitions=[definition], actions=[], result_format=result_format)
    try:
        checkpoint = context.checkpoints.get(name)
    except DataContextError:  # missing
        return context.checkpoints.add(wanted)
    if ([d.id for d in checkpoint.validation_definitions], checkpoint.actions, checkpoint.result_format) != (
            [definition.id], wanted.actions, wanted.result_format):
        checkpoint.validation_definitions = wanted.validation_definitions
        checkpoint.actions = wanted.actions
        checkpoint.result_format = wanted.result_format
        checkpoint.save()
    return checkpoint


def ensure_project(settings: Settings | None = None) -> FileDataContext:
    """Open the project and bring it in line with the code: create what is missing (that needs the warehouse: GX
    checks the tables exist), update what differs in place; a no-op, needing no database, when nothing differs."""
    context = open_context(settings)
    datasource = _datasource(context)
    for table in contract.TABLES:
        asset = _asset(datasource, table)
        for scope in SCOPES:
            batch_definition = _batch_definition(asset, scope)
            suite = _suite(context, table, scope)
            name = suites.suite_name(table.name, scope)
            definition = _validation_definition(context, name, batch_definition, suite)
            _checkpoint(context, checkpoint_name(table.name, scope), definition, suites.result_format(table))
    return context
