"""sqlfluff's dbt templater without a warehouse: `templater = dbt_offline` in `.sqlfluff`.

sqlfluff-templater-dbt 4.4 warms dbt's relation cache (one catalog query per schema) before it compiles any file,
so linting fails with "dbt tried to connect to the database" unless the warehouse is up (sqlfluff issue #8239;
dbt itself makes that warm-up optional, `--no-populate-cache`). Compiling our models needs no database — like
`dbt parse`, it never queries — so this templater is sqlfluff's own dbt templater minus that warm-up: dbt still
parses the project and compiles each model, test and ref exactly as `dbt compile` would, and CI lints with no
warehouse. The relation cache is marked as holding every project schema, empty, so `is_incremental()` (which looks
the model's relation up) answers false without a query. A model that ever queries at compile time (`run_query`)
still tries to connect and fails the lint loudly. Registered through the `sqlfluff` entry point in pyproject.toml;
used only by the linter.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlfluff.core.plugin import hookimpl
from sqlfluff_templater_dbt.templater import DbtTemplater


class OfflineDbtTemplater(DbtTemplater):
    """DbtTemplater whose dbt adapter is registered without populating the relation cache."""

    name = "dbt_offline"

    @contextmanager
    def connection(self) -> Iterator[None]:
        from dbt.adapters.factory import get_adapter
        from dbt.context.providers import generate_runtime_macro_context

        if self.project_dir not in self.adapters:
            adapter = get_adapter(self.dbt_config)
            # dbt's connection handle is lazy: acquiring it opens nothing until a query runs.
            adapter.acquire_connection("master")
            adapter.set_macro_resolver(self.dbt_manifest)
            adapter.set_macro_context_generator(generate_runtime_macro_context)
            # The parent registers the adapter the same way, then calls set_relations_cache(): the step skipped here.
            # Instead every schema the project builds in is known to the cache, empty: `is_incremental()` then finds
            # no relation without a query, and an incremental model is linted as its first (full) build.
            for node in self.dbt_manifest.nodes.values():
                adapter.cache.add_schema(node.database, node.schema)
            self.adapters[self.project_dir] = adapter
        with super().connection():
            yield


@hookimpl
def get_templaters() -> list[type[DbtTemplater]]:
    return [OfflineDbtTemplater]
