"""Everything the project relies on Cosmos for, in one module: the transform DAG in WATCHER mode.

`transform_dag(**dag_kwargs)` returns the finished `support_transform` DAG: Cosmos renders the dbt project from its
manifest in `ExecutionMode.WATCHER` — one task, the producer, runs a single `dbt build` (models, then each model's
tests, in dbt's order: a failing test makes dbt skip everything built on that model) and the other tasks are
sensors reporting what the producer did with their node. On top of Cosmos' default graph this module:

- renders each model as ONE task, named after the model, that succeeds when the model was built and all of its tests
  passed (`model_sensor_converter`, a Cosmos node converter); Cosmos' default is a `.run` and a `.test` sensor per
  model. The views in `serving` and `pii` and the untested intermediate models get no task of their own: each is
  reported (and its Asset published) by the task of the mart it belongs to — the mart a view serves, the mart an
  intermediate model feeds (`include/transform/folded_models.py`) — which succeeds only once they were built;
- starts the root model tasks beside the producer, each poking in its own process (not deferred to the triggerer):
  a model turns green within half a second of its last test, so the run ends about when dbt does. A model task that
  finds the producer not yet started reschedules itself (under `dag.test()`, which runs one task at a time, waiting
  would hang); a failed node is reported once the build is over;
- counts a test over several models only against the model(s) built last, as dbt does
  (`attribute_tests_to_last_built_models`): otherwise a failed mart would also turn its staging model red;
- publishes each model's Asset from its task, i.e. after its tests passed (Cosmos would publish it once the model
  was built, before its tests), partitioned by the run's date so the export runs once per as-of date;
- sets retries to 0 (a producer retry would be skipped by Cosmos; a sensor retry runs dbt for its model even after an
  upstream test failed); a cleared model task — or every model task, when the producer was cleared with them — runs
  `dbt build --select <model>` itself, not the stale result of the earlier build;
- alerts once per failed build: from the producer; the model tasks' own notifier stays quiet when the producer failed;
- runs dbt in the task's own process (`InvocationMode.DBT_RUNNER`: dbt is imported before the task process is forked,
  include/preload.py, so a task does not pay dbt's ~2.5 s start-up) holding the transform-inputs lock for as long as
  dbt runs (`_HoldsTransformInputsLock`; the producer's class is swapped for `LockedDbtProducer` after rendering).
  Killing the task ends dbt with it, and its sessions stop their queries within a second (PGOPTIONS).

What this relies on in Cosmos (verified with astronomer-cosmos 1.15.1; `cosmos_assumption_problems()` checks each one
and `tests/unit/test_cosmos_assumptions.py` fails naming the one an upgrade broke):

  A1 the producer's task id is `cosmos.constants.PRODUCER_WATCHER_TASK_ID` == `include.pipeline.DBT_PRODUCER_TASK`;
  A2 a node converter (`RenderConfig.node_converters`) is called with keyword arguments `dag`, `task_group`, `node`,
     `task_args`, and the node (`cosmos.dbt.graph.DbtNode`) has `name`, `has_non_detached_test`, `context_dict`,
     `package_name`, `depends_on`, `config`, `get_resource_name_from_unique_id`;
  A3 the watcher sensors take `extra_context={"dbt_node_config": {"unique_id": …}}` and expose `model_unique_id`,
     `producer_task_id`, `poke(context)`;
  A4 (private) `_get_producer_task_status(context)` returns the producer's state; a producer cleared and re-run is
     `skipped` (Cosmos skips a producer retry) — `ProducerTaskState.SKIPPED == "skipped"`;
  A5 (private) `_fallback_to_non_watcher_run(try_number, context) -> bool` is the sensor's "run dbt myself" path, and
     `build_and_run_cmd(context, cmd_flags=[...])` runs `<base_cmd> <cmd_flags>` (class attribute `base_cmd`);
  A6 the producer reads `tests_per_model` (model id → test ids) when it parses dbt's log, so rewriting it after
     rendering changes which tests a model's sensor waits for;
  A7 the rendered DAG keeps its dbt graph as `dag.dbt_graph.filtered_nodes` (unique id → DbtNode);
  A8 `operator_args` keys `callback` (dotted path, called with the project dir and `context` after each dbt call),
     `emit_datasets` and `append_env` reach the operators; `ProjectConfig.env_vars` values are rendered as Jinja
     templates per task;
  A9 a sensor made with `deferrable=False` pokes in its own process (`BaseSensorOperator.execute`), never deferring;
  A10 (private) the producer pushes each node's result to XCom `get_status_xcom_key(unique_id)` as
     `{"status": …}`, judged by `is_dbt_node_status_success`; `is_producer_task_terminated(state)` says the producer
     will push no more: a model task reads its folded models' results there and waits until the build is over.
  A11 every dbt call of a local operator in `InvocationMode.DBT_RUNNER` goes through
     `run_dbt_runner(command, env, cwd)`, `command[0]` being the executable; the producer is a
     `DbtProducerWatcherOperator` whose class a subclass can replace after rendering.
  A12 the producer's DBT_RUNNER event callback hands each event, as a JSON line, to `_make_parse_callable()`'s result,
     called once per `run_dbt_runner`, with `(line, extra_kwargs)`; a model task reads its node's `_dbt_event` XCom
     only once the node's result is in, so the progress events before `NodeFinished` need not be pushed.

Gaps worth an upstream fix (see docs/architecture.md): a model+tests sensor for WATCHER mode, a sensor that waits
for a producer not yet started without holding the slot it needs, emitting a model's Asset only after its tests,
and a cleared producer not replaying its earlier XComs to cleared sensors.
"""

from __future__ import annotations

import inspect
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from airflow.sdk import Asset
from airflow.sdk.exceptions import AirflowException, AirflowRescheduleException
from cosmos import DbtDag, ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
from cosmos.constants import DbtResourceType, ExecutionMode, InvocationMode, LoadMode, TestBehavior
from cosmos.dbt.graph import DbtNode
from cosmos.operators._watcher.state import (
    get_status_xcom_key,
    is_dbt_node_status_success,
    is_producer_task_terminated,
)
from cosmos.operators.watcher import DbtProducerWatcherOperator, DbtRunWatcherOperator, DbtTestWatcherOperator
from cosmos.profiles import PostgresUserPasswordProfileMapping
from jinja2 import pass_context

from include import pipeline
from include.config import SCHEMA_PII, SCHEMA_SERVING, SCHEMA_STAGING, get_settings
from include.notify.callbacks import sensor_failure_callbacks
from include.run_dates import LATEST, dbt_as_of_value, run_date
from include.transform.event_relay import EventRelay, results_only
from include.transform.folded_models import models_from_manifest, owners_of_folded_models
from include.transform.locked_dbt import dbt_inputs_lock, with_client_check
from include.transform.test_attribution import attribute_tests_to_last_built_models
from include.warehouse.connections import WAREHOUSE_TRANSFORMER_CONN

PRODUCER_SKIPPED = "skipped"  # A4
PRODUCER_NOT_STARTED = frozenset({None, "none", "scheduled"})  # not yet handed to an executor
PRODUCER_RUNNING = "running"
PRODUCER_RUNNING_RECHECK_S = 2.0
# Each lineage level still running when dbt finishes costs a task start plus up to one interval: the transform's median
# run was ~0.5 s shorter at 0.5 s than at 1 s, and longer at 2 s (scale 1; a poke is a few API calls).
MODEL_TASK_POKE_S = 0.5
# The nightly build runs no dbt unit tests: their inputs are fixed rows, so the night's data cannot change their
# outcome (dbt's advice: run them in development and CI). `make test` runs them (tests/integration/test_dbt_build.py),
# and so does `sa dbt -- build`. Each one delayed its model: a scale-1 transform run took 11.6 s, 10.3 s without
# them (medians of 6 runs, the local Airflow).
NIGHTLY_DBT_FLAGS = ("--exclude-resource-type", "unit_test")  # for `dbt build` (the producer, a model task's rebuild)


class _HoldsTransformInputsLock:
    """dbt run in this task's process holds the transform-inputs lock (`include.transform.locked_dbt`) while it runs:
    no load lands between a model and its tests. The lock's connection belongs to this process, so it is released
    when dbt is done or the process dies; PGOPTIONS makes dbt's own sessions stop within a second of that."""

    def run_dbt_runner(self, command: list[str], env: dict[str, str], cwd: str, **kwargs: Any) -> Any:  # A11
        dbt_args = command[1:]  # without the executable, which the dbt runner drops too
        with dbt_inputs_lock(dbt_args, env):
            return super().run_dbt_runner(command, with_client_check(env), cwd, **kwargs)  # type: ignore[misc]


class LockedDbtProducer(_HoldsTransformInputsLock, DbtProducerWatcherOperator):
    """Cosmos' producer (one `dbt build` of the whole project), holding the transform-inputs lock while dbt runs; it
    handles dbt's events (log lines, node results pushed to XCom) in a thread of their own, so dbt's threads never
    wait for an API call, and pushes a node's result events only (`include.transform.event_relay`)."""

    _relay: EventRelay | None = None

    def run_dbt_runner(self, command: list[str], env: dict[str, str], cwd: str, **kwargs: Any) -> Any:  # A11
        with EventRelay(results_only(super()._make_parse_callable())) as self._relay:
            try:
                return super().run_dbt_runner(command, env, cwd, **kwargs)
            finally:
                self._relay = None

    def _make_parse_callable(self) -> Callable[[str, Any], None]:  # A12
        return self._relay if self._relay is not None else super()._make_parse_callable()


class _ModelTask(_HoldsTransformInputsLock):
    """What each model task adds to Cosmos' sensor.

    - It starts beside the producer and reports its model as soon as dbt has built and tested it (it pokes the
      producer's XComs every `MODEL_TASK_POKE_S`), so the grid follows the build instead of replaying it after dbt
      has finished. A producer not yet started (`dag.test()` runs one task at a time) makes it reschedule itself
      rather than wait in the only slot; a node that failed is reported once the build is over, so the failure
      alert comes from the producer, naming every failed test, and not once per model.
    - A cleared producer does not rebuild (Cosmos skips its retry) and restores the XComs of its earlier, failed
      build; a task cleared with it would report that stale result. Instead it runs dbt for its model itself.
    - Its model's Asset event carries the run's date as partition key, so the export runs once per as-of date: a
      partitioned transform run passes its own key on by itself; a manual run (no key) names its as-of date."""

    reported_with: tuple[str, ...] = ()  # the folded models (served views, intermediates) this task reports too
    _built_here = False  # this task ran dbt for its model (and those) itself
    _producer_state_this_poke: tuple[str | None] | None = None
    _producer_running_since_read: float | None = None  # monotonic time of the last read that found it running

    def poke(self, context: Any) -> bool:
        producer = self._producer_state(context)
        self._producer_state_this_poke = (producer,)
        try:
            return self._poke_given(producer, context)
        finally:
            self._producer_state_this_poke = None

    def _producer_state(self, context: Any) -> str | None:
        """The producer's state, read again at most every `PRODUCER_RUNNING_RECHECK_S` while it is running: a poke
        is then one API call (the model's result), not two. Only the failure path waits for it: a node that failed,
        or never reports, is judged once the producer is seen terminated."""
        now = time.monotonic()
        if self._producer_running_since_read is not None and now - self._producer_running_since_read < \
                PRODUCER_RUNNING_RECHECK_S:
            return PRODUCER_RUNNING
        producer = super()._get_producer_task_status(context)  # type: ignore[misc]  # A4
        self._producer_running_since_read = now if producer == PRODUCER_RUNNING else None
        return producer

    def _get_producer_task_status(self, context: Any) -> str | None:  # A4
        """The producer's state this poke already read: one API call per poke, not two (Cosmos' poke reads it)."""
        if self._producer_state_this_poke is not None:
            return self._producer_state_this_poke[0]
        return super()._get_producer_task_status(context)  # type: ignore[misc, no-any-return]

    def _poke_given(self, producer: str | None, context: Any) -> bool:
        if producer in PRODUCER_NOT_STARTED:
            raise AirflowRescheduleException(datetime.now(UTC) + timedelta(seconds=MODEL_TASK_POKE_S))
        if producer == PRODUCER_SKIPPED:
            self.log.info("producer %s skipped (cleared): running dbt for this model here",  # type: ignore[attr-defined]
                          pipeline.DBT_PRODUCER_TASK)
            done = self._fallback_to_non_watcher_run(context["ti"].try_number, context)  # type: ignore[attr-defined]
        elif not is_producer_task_terminated(producer) and context["ti"].try_number > 1:
            return False  # cleared while a producer runs: its XComs may still be an earlier build's
        else:
            try:
                done = super().poke(context)  # type: ignore[misc]
            except AirflowException:  # the node failed or was skipped (AirflowSkipException is one)
                if not is_producer_task_terminated(producer):
                    return False
                raise
        if done and not self._built_here and not self._reported_with_built(producer, context):
            return False
        if done:
            self._partition_outlets(context)
        return bool(done)

    def _reported_with_built(self, producer: str | None, context: Any) -> bool:
        """Did the producer's build create every folded model this task reports? (False: not yet; raises: never
        will.)"""
        for folded in self.reported_with:
            reported = context["ti"].xcom_pull(task_ids=self.producer_task_id,  # type: ignore[attr-defined]
                                               key=get_status_xcom_key(folded))  # A10
            status = reported.get("status") if isinstance(reported, dict) else None
            if is_dbt_node_status_success(status):
                continue
            if not is_producer_task_terminated(producer):
                return False
            raise AirflowException(f"dbt model {folded} (reported by this task) was not built: status"
                                   f" {status or 'none'}; see the log of {self.producer_task_id}")  # type: ignore[attr-defined]
        return True

    def _fallback_to_non_watcher_run(self, try_number: int, context: Any) -> bool:  # A5
        selection = [DbtNode.get_resource_name_from_unique_id(uid)
                     for uid in (self.model_unique_id, *self.reported_with)]  # type: ignore[attr-defined]
        self.log.info("Try %s: running dbt %s --select %s here", try_number,  # type: ignore[attr-defined]
                      " ".join(self.base_cmd), " ".join(selection))  # type: ignore[attr-defined]
        self.build_and_run_cmd(context, cmd_flags=["--select", *selection])  # type: ignore[attr-defined]
        self._built_here = True
        return True

    def _partition_outlets(self, context: Any) -> None:
        if getattr(context.get("dag_run"), "partition_key", None):
            return
        key = run_date(context) or LATEST
        for asset in self.outlets:  # type: ignore[attr-defined]
            if isinstance(asset, Asset):  # not Cosmos' AssetAlias outlet (partitions go on concrete assets only)
                context["outlet_events"][asset].add_partitions(key)


class ModelAndTestsSensor(_ModelTask, DbtTestWatcherOperator):
    """Reports a model and all of its tests (the producer's aggregated test status for the model).

    Run by itself (cleared in the UI, or its producer cleared), it runs `dbt build --select <model> <its folded
    models>` — the model, then its tests — where Cosmos' test sensor would only re-test a table never rebuilt."""

    base_cmd: ClassVar[list[str]] = ["build"]  # A5


class ModelSensor(_ModelTask, DbtRunWatcherOperator):
    """Reports a model without tests; run by itself, it runs `dbt run --select <model> <its folded models>`."""


def model_sensor_converter(owners: dict[str, str]) -> Callable[..., Any]:
    """The Cosmos node converter (`RenderConfig.node_converters[DbtResourceType.MODEL]`, A2): each model's one
    task, none for a folded model (`owners`: folded model id → the model whose task reports it)."""
    folded: dict[str, list[str]] = {}
    for model, owner in owners.items():
        folded.setdefault(owner, []).append(model)

    def model_sensor(dag: Any, task_group: Any, node: Any, task_args: dict[str, Any], **_: Any) -> Any:
        if node.unique_id in owners:
            return None  # reported by its owner's task (Cosmos renders no task for it)
        sensor = ModelAndTestsSensor if node.has_non_detached_test else ModelSensor
        extra_context = {"dbt_node_config": node.context_dict, "package_name": node.package_name,
                         "dbt_dag_task_group_identifier": dag.dag_id}
        # Poking in its own process (not deferred to the triggerer): its model is reported within half a second of its
        # tests.
        task_args = {**task_args, "deferrable": False, "mode": "poke", "poke_interval": MODEL_TASK_POKE_S}  # A9
        task = sensor(task_id=node.name, dag=dag, task_group=task_group, extra_context=extra_context, **task_args)
        task.reported_with = tuple(sorted(folded.get(node.unique_id, ())))
        return task

    return model_sensor


@pass_context
def _as_of_date_macro(context: Any) -> str:
    """`{{ sa_as_of_date() }}`: the run's churn as-of date for dbt ("" = the latest date in the data)."""
    return dbt_as_of_value(context)


@pass_context
def _full_tests_macro(context: Any) -> str:
    """`{{ sa_full_tests() }}`: "true" when the run's conf asks for the full check (`{"full_tests": true}`), else the
    worker's own SA_DBT_FULL_TESTS ("" = the big tables' tests check their new rows)."""
    dag_run = context.get("dag_run")
    conf = getattr(dag_run, "conf", None) or {}
    asked = conf.get(pipeline.FULL_TESTS_CONF)
    if asked is not None and str(asked).lower() not in ("true", "false"):
        raise AirflowException(f"run conf '{pipeline.FULL_TESTS_CONF}' must be true or false, got {asked!r}")
    if str(asked).lower() == "true":
        return "true"
    return os.environ.get(pipeline.FULL_TESTS_ENV, "")


def _sensors(dag: Any) -> list[Any]:
    return [t for t in dag.tasks if hasattr(t, "producer_task_id") and t.task_id != pipeline.DBT_PRODUCER_TASK]


def _finish_graph(dag: Any, owners: dict[str, str]) -> None:
    """Retries 0, the tests each model task waits for, each model's Asset (and its folded models') on its task, the
    lineage through folded models, the model tasks' alerting."""
    producer = dag.get_task(pipeline.DBT_PRODUCER_TASK)  # A1
    producer.__class__ = LockedDbtProducer  # A11
    producer.retries = 0
    producer.dbt_cmd_flags = _nightly_flags(producer)
    nodes = dag.dbt_graph.filtered_nodes  # A7
    producer.tests_per_model = attribute_tests_to_last_built_models(  # A6
        producer.tests_per_model, {uid: node.depends_on for uid, node in nodes.items()})
    settings = get_settings()
    task_of = {sensor.model_unique_id: sensor for sensor in _sensors(dag)}  # A3
    for uid, sensor in task_of.items():
        sensor.retries = 0
        sensor.dbt_cmd_flags = _nightly_flags(sensor)
        sensor.on_failure_callback = sensor_failure_callbacks()
        assets = []
        for reported in (uid, *sensor.reported_with):
            node = nodes[reported]
            relation = node.config.get("alias") or node.name  # served views are aliased to their mart's name
            assets.append(Asset(settings.table_uri(node.config.get("schema") or SCHEMA_STAGING, relation)))
        sensor.outlets = [*sensor.outlets, *assets]
        for upstream in _waits_for(uid, sensor, nodes, owners, task_of):
            if upstream.task_id not in sensor.upstream_task_ids:
                upstream >> sensor


def _nightly_flags(task: Any) -> list[str]:
    """NIGHTLY_DBT_FLAGS for a task running `dbt build` (the producer, a tested model's rebuild); none for `dbt run`
    (an untested model's rebuild), which has no such option."""
    return list(NIGHTLY_DBT_FLAGS) if task.base_cmd == ["build"] else []


def _waits_for(uid: str, sensor: Any, nodes: dict[str, Any], owners: dict[str, str],
               task_of: dict[str, Any]) -> set[Any]:
    """The model tasks the task of `uid` waits for: each parent model's task, or the task reporting it when the parent
    is folded; through a folded parent this task reports itself (an intermediate model), that one's parents."""
    tasks = set()
    for parent in nodes[uid].depends_on:
        task = task_of.get(owners.get(parent, parent))
        if task is sensor:
            tasks |= _waits_for(parent, sensor, nodes, owners, task_of)
        elif task is not None:
            tasks.add(task)
    return tasks


def transform_dag_profile_args() -> dict[str, Any]:
    """What the profile has besides the connection (as dbt/profiles.yml's targets have it)."""
    return {"schema": SCHEMA_STAGING, "threads": 4, "connect_timeout": 10, "keepalives_idle": 0}


def transformer_profile(target: str = "dev") -> ProfileConfig:
    """dbt's profile from the Airflow connection `warehouse_transformer`: Cosmos writes it per task, the password
    as an environment variable of dbt's process (not in the file). Named like dbt/profiles.yml's profile and target
    (the CLI's), so both give dbt the same `target.name`."""
    return ProfileConfig(profile_name="support_analytics", target_name=target,
                         profile_mapping=PostgresUserPasswordProfileMapping(
                             conn_id=WAREHOUSE_TRANSFORMER_CONN, profile_args=transform_dag_profile_args()))


def transform_dag(**dag_kwargs: Any) -> DbtDag:
    """The dbt project as a finished WATCHER DAG; `dag_kwargs` are the DAG's own arguments (id, schedule, …)."""
    settings = get_settings()
    dbt_dir = settings.dbt_project_dir
    owners = owners_of_folded_models(*models_from_manifest(dbt_dir / "target" / "manifest.json"),
                                     served_schemas=(SCHEMA_SERVING, SCHEMA_PII))
    dag = DbtDag(
        project_config=ProjectConfig(
            dbt_project_path=dbt_dir, manifest_path=dbt_dir / "target" / "manifest.json", install_dbt_deps=False,
            # The as-of date reaches dbt as an environment variable (macro `churn_as_of_date`), not `--vars`: a new
            # var value would make dbt re-parse the whole project every night.
            env_vars={pipeline.AS_OF_DATE_ENV: "{{ sa_as_of_date() }}",  # A8
                      pipeline.FULL_TESTS_ENV: "{{ sa_full_tests() }}"},
        ),
        profile_config=transformer_profile(settings.dbt_target),
        # One `dbt build` (the producer); one task per model reports the model and its tests. dbt runs in the task's
        # process, holding the transform-inputs lock while it runs, so no load lands mid-build.
        execution_config=ExecutionConfig(execution_mode=ExecutionMode.WATCHER,
                                         invocation_mode=InvocationMode.DBT_RUNNER),
        render_config=RenderConfig(load_method=LoadMode.DBT_MANIFEST, test_behavior=TestBehavior.AFTER_EACH,
                                   node_converters={DbtResourceType.MODEL: model_sensor_converter(owners)}),
        operator_args={  # A8
            "append_env": True,  # dbt's subprocess gets SA_DBT_READER_ROLE/SA_DBT_PII_READER_ROLE (grants)
            "callback": "include.transform.dbt_callback.keep_dbt_results",  # dbt results → XCom → summary and alert
            "emit_datasets": False,  # each model's Asset is published after its tests (_finish_graph)
        },
        user_defined_macros={"sa_as_of_date": _as_of_date_macro, "sa_full_tests": _full_tests_macro},
        **dag_kwargs,
    )
    _finish_graph(dag, owners)
    return dag


# --- the assumptions, checked ------------------------------------------------------------------------------------

def _has_params(func: Callable[..., Any], *names: str) -> bool:
    params = inspect.signature(func).parameters
    return all(name in params for name in names)


def _check_producer_id() -> bool:
    from cosmos.constants import PRODUCER_WATCHER_TASK_ID

    return bool(PRODUCER_WATCHER_TASK_ID == pipeline.DBT_PRODUCER_TASK)


def _check_converter_call() -> bool:
    from cosmos.airflow import graph

    source = inspect.getsource(graph)
    node_attrs = ("name", "has_non_detached_test", "context_dict", "package_name", "depends_on", "config")
    return (all(f"{kw}={kw}" in source for kw in ("dag", "task_group", "node", "task_args"))
            and all(hasattr(DbtNode, a) or a in DbtNode.__dataclass_fields__ for a in node_attrs)
            and callable(getattr(DbtNode, "get_resource_name_from_unique_id", None)))


def _check_sensor_interface() -> bool:
    from cosmos.operators._watcher.base import BaseConsumerSensor

    init = inspect.getsource(BaseConsumerSensor.__init__)
    return ('extra_context.get("dbt_node_config", {}).get("unique_id")' in init and "self.producer_task_id" in init
            and _has_params(BaseConsumerSensor.poke, "context"))


def _check_producer_state() -> bool:
    from cosmos.operators._watcher.state import ProducerTaskState

    return (ProducerTaskState.SKIPPED.value == PRODUCER_SKIPPED
            and all(_has_params(cls._get_producer_task_status, "context")
                    for cls in (DbtTestWatcherOperator, DbtRunWatcherOperator)))


def _check_fallback() -> bool:
    return (all(_has_params(cls._fallback_to_non_watcher_run, "try_number", "context")
                and _has_params(cls.build_and_run_cmd, "context", "cmd_flags")
                for cls in (DbtTestWatcherOperator, DbtRunWatcherOperator))
            and "base_cmd" in vars(DbtTestWatcherOperator))


def _check_tests_per_model() -> bool:
    from cosmos.operators.watcher import DbtProducerWatcherOperator

    return "tests_per_model=self.tests_per_model" in inspect.getsource(DbtProducerWatcherOperator._make_parse_callable)


def _check_dbt_graph() -> bool:
    from cosmos.converter import DbtToAirflowConverter
    from cosmos.dbt.graph import DbtGraph

    return "self.dbt_graph = DbtGraph(" in inspect.getsource(DbtToAirflowConverter.__init__) and \
        "filtered_nodes" in DbtGraph.__annotations__


def _check_operator_args() -> bool:
    from cosmos.operators.base import AbstractDbtBase
    from cosmos.operators.local import AbstractDbtLocalBase

    return ("callback" in inspect.signature(AbstractDbtLocalBase.__init__).parameters
            and "append_env" in inspect.signature(AbstractDbtBase.__init__).parameters
            and "env" in AbstractDbtBase.template_fields)


def _check_poke_in_process() -> bool:
    from cosmos.operators._watcher.base import BaseConsumerSensor

    return "if not self.deferrable:\n            super().execute(context)" in inspect.getsource(
        BaseConsumerSensor._execute_core)


def _check_dbt_runner_call() -> bool:
    from cosmos.airflow import graph
    from cosmos.dbt import runner
    from cosmos.operators.local import AbstractDbtLocalBase

    return (_has_params(AbstractDbtLocalBase.run_dbt_runner, "command", "env", "cwd")
            and "cli_args = command[1:]" in inspect.getsource(runner.run_command)
            and "self.run_dbt_runner" in inspect.getsource(AbstractDbtLocalBase.invoke_dbt.fget)  # type: ignore[attr-defined]
            and "super().run_dbt_runner(" in inspect.getsource(DbtProducerWatcherOperator.run_dbt_runner)
            and 'calculate_operator_class(execution_mode, "DbtProducer")' in inspect.getsource(
                graph._add_watcher_producer_task))


def _check_event_callback() -> bool:
    from cosmos.operators._watcher.base import BaseConsumerSensor

    source = inspect.getsource(DbtProducerWatcherOperator.run_dbt_runner)
    poke = inspect.getsource(BaseConsumerSensor.poke)
    return ("parse = self._make_parse_callable()" in source and "parse(json_str, extra_kwargs)" in source
            and -1 < poke.find("if status is None") < poke.find("get_dbt_event_xcom_key(self.model_unique_id)"))


def _check_node_status_xcom() -> bool:
    from cosmos.operators._watcher.base import BaseConsumerSensor

    source = inspect.getsource(BaseConsumerSensor._get_node_status)
    return "get_status_xcom_key(self.model_unique_id)" in source and 'xcom_val.get("status")' in source


COSMOS_ASSUMPTIONS: dict[str, Callable[[], bool]] = {
    "A1 producer task id is dbt_producer_watcher": _check_producer_id,
    "A2 node converters get dag/task_group/node/task_args; DbtNode attributes": _check_converter_call,
    "A3 watcher sensors take extra_context and expose model_unique_id/producer_task_id/poke": _check_sensor_interface,
    "A4 _get_producer_task_status(context); a cleared producer is 'skipped'": _check_producer_state,
    "A5 _fallback_to_non_watcher_run(try_number, context); build_and_run_cmd(cmd_flags); base_cmd": _check_fallback,
    "A6 the producer reads tests_per_model when parsing dbt's log": _check_tests_per_model,
    "A7 the DAG keeps dbt_graph.filtered_nodes": _check_dbt_graph,
    "A8 operator_args callback/append_env reach the operators; env is templated": _check_operator_args,
    "A9 deferrable=False sensors poke in their own process": _check_poke_in_process,
    "A10 a node's result is XCom get_status_xcom_key(uid) = {'status': ...}": _check_node_status_xcom,
    "A11 DBT_RUNNER calls go through run_dbt_runner(command, env, cwd); the producer is DbtProducerWatcherOperator":
        _check_dbt_runner_call,
    "A12 the producer's event callback calls _make_parse_callable()'s result; dbt events are read after results":
        _check_event_callback,
}


def cosmos_assumption_problems() -> list[str]:
    """The assumptions above that the installed Cosmos no longer meets (by name); [] when all hold."""
    problems = []
    for name, check in COSMOS_ASSUMPTIONS.items():
        try:
            ok = check()
        except Exception as exc:  # a renamed module or attribute is a broken assumption too
            problems.append(f"{name}: {type(exc).__name__}: {exc}")
            continue
        if not ok:
            problems.append(name)
    return problems
