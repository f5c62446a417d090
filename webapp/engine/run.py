"""Running one workflow: the sandboxed script engine and "run until a person must act".

Nothing here touches the database; :mod:`webapp.engine.actions` loads and saves around it.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from flask_babel import lazy_gettext as _l
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    DurationTimerEventDefinition,
    TimeDateEventDefinition,
    TimerEventDefinition,
)
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.util.task import TaskState

from . import sandbox

ServiceCall = Callable[[str, dict[str, Any], Mapping[str, Any]], dict[str, Any]]


class SandboxEnvironment(BasePythonScriptEngineEnvironment):
    """Routes every evaluation SpiffWorkflow asks for into :mod:`.sandbox`, and service tasks to handlers."""

    def __init__(self, functions: Mapping[str, Callable[..., Any]], call_service: ServiceCall, time_limit: float,
                 now: datetime):
        super().__init__({})
        self.now = now  # the action's clock, read by our timers (see .timers)
        self.functions = dict(functions)
        self._call_service = call_service
        self.time_limit = time_limit

    def evaluate(self, expression: str, context: dict[str, Any], external_context: Any = None) -> Any:
        names = {**(external_context or {}), **context}
        return sandbox.evaluate(expression, names, self.functions)

    def execute(self, script: str, context: dict[str, Any], external_context: Any = None) -> bool:
        sandbox.run_script(script, context, self.functions, self.time_limit)
        return True

    def call_service(self, context: dict[str, Any], operation_name: str = "", operation_params: Any = None,
                     **_: Any) -> str:
        params = {name: spec["value"] for name, spec in (operation_params or {}).items()}
        return json.dumps(self._call_service(operation_name, params, context), default=str)


class SandboxScriptEngine(PythonScriptEngine):
    """PythonScriptEngine with its ``call_service`` error path fixed.

    SpiffWorkflow 3.2.0 raises ``NameError: name 'script' is not defined`` instead of the
    handler's exception (notes §3.3); we raise the real one, wrapped with the task.
    """

    def call_service(self, task: Any, **kwargs: Any) -> Any:
        try:
            return self.environment.call_service(task.data, **kwargs)
        except SpiffWorkflowException:
            raise
        except Exception as err:
            raise WorkflowTaskException(f"{kwargs.get('operation_name')}: {err}", task=task, exception=err) from err


@dataclass(frozen=True)
class ReadyTask:
    guid: str
    spec_id: str
    name: str
    lane: str
    data: dict[str, Any]


def new_workflow(spec: Any, subprocess_specs: dict[str, Any], engine: PythonScriptEngine,
                 data: Mapping[str, Any]) -> BpmnWorkflow:
    workflow = BpmnWorkflow(spec, subprocess_specs, script_engine=engine)
    workflow.task_tree.data.update(data)
    return workflow


def advance(workflow: BpmnWorkflow) -> None:
    """Run every engine step (gateways, service and script tasks, events) until people must act."""
    workflow.do_engine_steps()


def ready_user_tasks(workflow: BpmnWorkflow) -> list[ReadyTask]:
    return [
        ReadyTask(str(t.id), t.task_spec.bpmn_id, t.task_spec.bpmn_name or t.task_spec.bpmn_id,
                  t.task_spec.lane or "", t.data)
        for t in workflow.get_tasks(state=TaskState.READY, manual=True)
        if t.task_spec.bpmn_id is not None
    ]


def user_task(workflow: BpmnWorkflow, guid: str) -> Any | None:
    try:
        task = workflow.get_task_from_id(UUID(guid))
    except Exception:  # SpiffWorkflow raises TaskNotFoundException or KeyError depending on depth
        return None
    if task is None or not task.task_spec.manual or task.state != TaskState.READY:
        return None
    return task


def complete_user_task(workflow: BpmnWorkflow, task: Any, data: Mapping[str, Any],
                       replaces: Collection[str] = ()) -> None:
    """Complete ``task`` with ``data``; fields in ``replaces`` missing from ``data`` are removed
    (a form answered again replaces the old answers, it does not merge with them)."""
    for name in replaces:
        if name not in data:
            task.data.pop(name, None)
    task.data.update(data)
    task.run()
    advance(workflow)


def fire_due_timers(workflow: BpmnWorkflow, now: datetime) -> int:
    """Fire every waiting timer due at ``now`` by *our* clock, then run what follows.

    Our timer definitions never fire by themselves (see :mod:`.timers`); this marks them.
    """
    fired = 0
    for task in _waiting_timers(workflow):
        value = task._get_internal_data("event_value")
        if value is None or task._get_internal_data("event_fired", False):
            continue
        if TimerEventDefinition.get_datetime(value) <= now:
            task._set_internal_data(event_fired=True)
            fired += 1
    if fired:
        workflow.refresh_timers()
        advance(workflow)
    return fired


def _waiting_timers(workflow: BpmnWorkflow) -> list[Any]:
    return [task for task in workflow.event_manager.tasks.values()
            if isinstance(getattr(task.task_spec, "event_definition", None),
                          (TimeDateEventDefinition, DurationTimerEventDefinition))]


def next_timer_at(workflow: BpmnWorkflow) -> datetime | None:
    """The earliest unfired timer of the workflow (stored in the indexed column, rule 4)."""
    moments = [TimerEventDefinition.get_datetime(value) for task in _waiting_timers(workflow)
               if isinstance(value := task._get_internal_data("event_value"), str)
               and not task._get_internal_data("event_fired", False)]
    return min(moments) if moments else None


def reached_end(workflow: BpmnWorkflow) -> str | None:
    """The BPMN id of the end event the main path finished on (the last one completed)."""
    ends = [t for t in workflow.get_tasks() if t.state == TaskState.COMPLETED and t.task_spec.bpmn_id
            and type(t.task_spec).__name__ == "EndEvent" and t.workflow is workflow]
    return max(ends, key=lambda t: t.last_state_change).task_spec.bpmn_id if ends else None


def completed_steps(workflow: BpmnWorkflow) -> list[str]:
    """BPMN ids of completed visible elements, in completion order (for the instance diagram)."""
    done = [t for t in workflow.get_tasks() if t.state == TaskState.COMPLETED and t.task_spec.bpmn_id]
    done.sort(key=lambda t: t.last_state_change)
    return [t.task_spec.bpmn_id for t in done]


def _message(err: BaseException) -> Any:
    """An exception's message, still lazy if it was translatable (rendered in the reader's language)."""
    if isinstance(err, NameError) and err.name:  # a condition, timer or script naming a missing field
        return _l("The name %(name)s is not defined: the data has no field of that name and there is no such "
                  "function.", name=repr(err.name))
    if err.args and len(err.args) == 1 and not isinstance(err.args[0], (str, bytes)) and hasattr(err.args[0], "format"):
        return err.args[0]
    return str(err)


def error_message(err: Exception) -> Any:
    """The person-readable part of a SpiffWorkflow error, with the element it happened on."""
    if isinstance(err, WorkflowTaskException) and err.task is not None:
        spec = err.task.task_spec
        inner: BaseException = err
        while isinstance(inner, WorkflowTaskException):
            cause = getattr(inner, "exception", None) or inner.__cause__
            context = inner.__context__
            if cause is None and context is not None and getattr(inner, "error_type", "") == type(context).__name__:
                cause = context  # SpiffWorkflow's expression wrapper keeps only the name of what it wrapped
            if cause is None:
                break
            inner = cause  # SpiffWorkflow and our service bridge may each wrap once
        return _l("%(step)s: %(detail)s", step=spec.bpmn_name or spec.bpmn_id, detail=_message(inner))
    return _message(err)
