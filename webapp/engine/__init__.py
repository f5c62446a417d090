"""The only package that imports SpiffWorkflow (DESIGN rule 1).

Everything else speaks to it in domain words::

    deploy(bpmn, forms, user=..., expected_key=...) -> (ProcessDefinition, created)
    validate(bpmn, forms, expected_key=...)  -> Parsed (with .problems)
    read_diagram(bpmn)                       -> (graph, problems) of untrusted bytes, no SpiffWorkflow
    wrong_process(found, key)                -> the problem "this editor is for another process"
    start(process_key, contract, data, user) -> ProcessInstance
    complete(task_id, data, user)            -> HumanTask
    due_instances(now) / lock_due(ids, now) / fire_timers_of(id, now, closed_days(), instance=...)
                                             -> the worker's timer sweep (webapp.worker batches it)

Modules: ``xmlsafe`` (hostile XML), ``parse`` (diagram -> specs + metadata + problems),
``sandbox`` (expressions and scripts), ``run`` (one workflow in memory), ``store``
(serialization, spec cache), ``projection`` (inbox rows), ``calendar`` (business days),
``scripting`` (per-action script engine and handler bridge), ``timers``, ``versions`` (deploy), ``actions``.
"""
from importlib import import_module
from typing import Any

# Verbs and errors are loaded on first use, so that ``from webapp.engine import calendar``
# (used by forms and queries) does not import the verbs, which import those same modules.
_EXPORTS = {
    "check_may_complete": "actions", "complete": "actions", "due_instances": "actions", "fire_timers_of": "actions",
    "lock_due": "actions", "postpone_failed_timer": "actions", "fire_due_timers": "actions", "form_for": "actions",
    "load_task": "actions", "start": "actions", "why_not": "actions",
    "deploy": "versions", "latest_version": "versions", "latest_versions": "versions", "validate": "versions",
    "read_diagram": "versions", "wrong_process": "versions",
    "ConcurrentUpdate": "errors", "DiagramInvalid": "errors", "EngineError": "errors", "NotAllowed": "errors",
    "NotFound": "errors", "ProcessFailed": "errors", "RuleViolation": "errors", "TaskAlreadyDone": "errors",
    "VersionConflict": "errors",
    "check_all": "consistency", "check_instance": "consistency", "closed_days": "scripting",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{module}"), name)
