"""The transform DAG's graph in Cosmos' WATCHER mode: one task per dbt model, correct under `dag.test()` and the
scheduler alike.

In `ExecutionMode.WATCHER` one task, the producer, runs a single `dbt build` (models, then each model's tests, in
dbt's own order: a failing test makes dbt skip everything built on that model); the other tasks are sensors that
report what the producer did with their node. This module:

- renders each model as ONE sensor, named after the model, that succeeds when the model was built and all of its
  tests passed (`model_sensor`, a Cosmos node converter) — Cosmos' default is a `.run` and a `.test` sensor per
  model, twice the tasks for no extra information. A model without tests gets a sensor on the model itself;
- runs the producer before the root sensors: Cosmos does not wire it when the models' parents are dbt sources,
  and a sensor scheduled first would wait for a build that never starts (`dag.test()` runs one task at a time).
  Roots get `all_done`, so they still report (and fall back to running dbt themselves) if the producer failed;
- counts a test over several models (a singular test over a mart and a staging model) only against the model(s)
  built last, as dbt does: otherwise a failed mart would turn the staging model red too and stop its other
  consumers, which dbt built;
- publishes each model's Asset from its sensor, i.e. after its tests passed (Cosmos would publish it once the model
  was built, before its tests ran — the churn export must never start on an untested mart);
- sets retries to 0: a producer retry would run a second full build (Cosmos skips it), a sensor retry runs dbt for
  its model even after an upstream test failed. Clearing tasks in the UI still works: a cleared model task — or
  every model task, when the producer was cleared with them — runs `dbt build` for its model (model, then tests);
- alerts once per failure: a failed dbt test fails the producer (its alert names the tests) and the sensors of the
  models it touched; the sensors' callbacks (`include.notify.callbacks.sensor_failure_callbacks`) stay quiet when
  the producer of the run failed.
"""

from __future__ import annotations

from typing import Any, ClassVar

from airflow.sdk import Asset
from cosmos.dbt.graph import DbtNode
from cosmos.operators.watcher import DbtRunWatcherOperator, DbtTestWatcherOperator

from include.config import SCHEMA_STAGING

PRODUCER_TASK_ID = "dbt_producer_watcher"


class _RebuildsWhenProducerWasCleared:
    """A cleared producer does not rebuild (Cosmos skips its retry) and restores the XComs of its earlier, failed
    build; a sensor cleared with it would report that stale result. Instead it runs dbt for its model itself."""

    def poke(self, context: Any) -> bool:
        if self._get_producer_task_status(context) == "skipped":  # type: ignore[attr-defined]
            self.log.info("producer %s skipped (cleared): running dbt for this model here",  # type: ignore[attr-defined]
                          PRODUCER_TASK_ID)
            return self._fallback_to_non_watcher_run(context["ti"].try_number, context)  # type: ignore[attr-defined]
        return super().poke(context)  # type: ignore[misc]


class ModelAndTestsSensor(_RebuildsWhenProducerWasCleared, DbtTestWatcherOperator):
    """Reports a model and all of its tests (the producer's aggregated test status for the model).

    Run by itself (cleared in the UI, or its producer cleared), it runs `dbt build --select <model>` — the model,
    then its tests — where Cosmos' test sensor would only re-test a table that was never rebuilt."""

    base_cmd: ClassVar[list[str]] = ["build"]

    def _fallback_to_non_watcher_run(self, try_number: int, context: Any) -> bool:
        model = DbtNode.get_resource_name_from_unique_id(self.model_unique_id)
        self.log.info("Try %s: running dbt build for model %s (model, then its tests)", try_number, model)
        self.build_and_run_cmd(context, cmd_flags=["--select", model])
        return True


class ModelSensor(_RebuildsWhenProducerWasCleared, DbtRunWatcherOperator):
    """Reports a model without tests; run by itself, it runs `dbt run --select <model>` (Cosmos' fallback)."""


def model_sensor(dag: Any, task_group: Any, node: Any, task_args: dict[str, Any], **_: Any) -> Any:
    """Cosmos node converter (`RenderConfig.node_converters[DbtResourceType.MODEL]`): the model's one sensor."""
    sensor = ModelAndTestsSensor if node.has_non_detached_test else ModelSensor
    extra_context = {"dbt_node_config": node.context_dict, "package_name": node.package_name,
                     "dbt_dag_task_group_identifier": dag.dag_id}
    return sensor(task_id=node.name, dag=dag, task_group=task_group, extra_context=extra_context, **task_args)


def _ancestors(unique_id: str, nodes: dict[str, Any]) -> set[str]:
    seen: set[str] = set()
    todo = [unique_id]
    while todo:
        node = nodes.get(todo.pop())
        for parent in node.depends_on if node is not None else []:
            if parent not in seen:
                seen.add(parent)
                todo.append(parent)
    return seen


def attribute_tests_to_last_built_models(tests_per_model: dict[str, list[str]],
                                         nodes: dict[str, Any]) -> dict[str, list[str]]:
    """Drop a test from a model when the test also covers a model built on top of it."""
    models_per_test: dict[str, set[str]] = {}
    for model, tests in tests_per_model.items():
        for test in tests:
            models_per_test.setdefault(test, set()).add(model)
    kept: dict[str, list[str]] = {}
    for model, tests in tests_per_model.items():
        kept[model] = [t for t in tests if not any(model in _ancestors(other, nodes)
                                                    for other in models_per_test[t] - {model})]
    return kept


def _sensors(dag: Any) -> list[Any]:
    return [t for t in dag.tasks if hasattr(t, "producer_task_id") and t.task_id != PRODUCER_TASK_ID]


def finish_watcher_graph(dag: Any, table_uri: Any, sensor_failure_callbacks: list[Any]) -> None:
    """Wire producer → root sensors, retries 0, each model's Asset on its sensor, the sensors' alerts.

    `table_uri(schema, model)` builds a model's Asset URI."""
    producer = dag.get_task(PRODUCER_TASK_ID)
    producer.retries = 0
    producer.tests_per_model = attribute_tests_to_last_built_models(producer.tests_per_model,
                                                                    dag.dbt_graph.filtered_nodes)
    for sensor in _sensors(dag):
        sensor.retries = 0
        sensor.on_failure_callback = sensor_failure_callbacks
        if not sensor.upstream_task_ids:
            producer >> sensor
            sensor.trigger_rule = "all_done"
        node = dag.dbt_graph.filtered_nodes[sensor.model_unique_id]
        uri = table_uri(node.config.get("schema") or SCHEMA_STAGING, sensor.task_id)
        sensor.outlets = [*sensor.outlets, Asset(uri)]
