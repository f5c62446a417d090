"""Workflow state without its spec, and parsed specs cached per deployed version (rule 5).

The instance row stores only task states and data; the spec comes from the version's
BPMN, parsed once per process and kept in :data:`_SPECS` keyed by the BPMN's sha256, so a
version is parsed at most once per process however many instances run on it.
"""
from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.workflow import VERSION as SERIALIZER_VERSION  # noqa: F401 (store.SERIALIZER_VERSION)
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter, WorkflowConverter
from SpiffWorkflow.spiff.serializer import DEFAULT_CONFIG

from .parse import build_specs
from .timers import CLOCK_TIMERS
from .xmlsafe import read_xml

_CACHE_SIZE = 128
_SPECS: OrderedDict[str, tuple[Any, dict[str, Any]]] = OrderedDict()
_LOCK = threading.Lock()


class _StateOnlyConverter(BpmnWorkflowConverter):
    """Like SpiffWorkflow's converter, minus ``spec``/``subprocess_specs``, which we supply."""

    def to_dict(self, workflow: BpmnWorkflow) -> dict[str, Any]:
        dct = WorkflowConverter.to_dict(self, workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def from_dict(self, dct: dict[str, Any], spec: Any = None, subprocess_specs: Any = None) -> BpmnWorkflow:
        workflow = self.target_class(spec, subprocess_specs, deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


def _make_serializer() -> BpmnWorkflowSerializer:
    config = dict(DEFAULT_CONFIG)  # a copy: never mutate SpiffWorkflow's shared config
    config[BpmnWorkflow] = _StateOnlyConverter
    for original, ours in CLOCK_TIMERS.items():
        config[ours] = config[original]
    return BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(config))


_SERIALIZER: BpmnWorkflowSerializer | None = None


def serializer() -> BpmnWorkflowSerializer:
    global _SERIALIZER
    if _SERIALIZER is None:
        with _LOCK:
            if _SERIALIZER is None:
                _SERIALIZER = _make_serializer()
    return _SERIALIZER


def specs_for(sha256: str, bpmn: bytes | Callable[[], bytes], key: str, max_bytes: int) -> tuple[Any, dict[str, Any]]:
    """Parsed specs of one deployed version, parsed on first use. ``bpmn``: the diagram, or what
    reads it (called on first use only: a version's BPMN is not read from the database to be ignored)."""
    with _LOCK:
        if sha256 in _SPECS:
            _SPECS.move_to_end(sha256)
            return _SPECS[sha256]
    return remember(sha256, build_specs(read_xml(bpmn() if callable(bpmn) else bpmn, max_bytes), key))


def remember(sha256: str, specs: tuple[Any, dict[str, Any]]) -> tuple[Any, dict[str, Any]]:
    """Cache the specs of the BPMN whose sha256 is given: deploy hands over those it built while
    validating, so a new version is not parsed again on its first run. Keeps specs already cached."""
    with _LOCK:
        specs = _SPECS.setdefault(sha256, specs)
        _SPECS.move_to_end(sha256)
        while len(_SPECS) > _CACHE_SIZE:
            _SPECS.popitem(last=False)
    return specs


def dumps(workflow: BpmnWorkflow) -> str:
    return serializer().serialize_json(workflow)


def loads(state: str, spec: Any, subprocess_specs: dict[str, Any]) -> BpmnWorkflow:
    ser = serializer()
    dct = json.loads(state)
    ser.migrate(dct)
    return ser.from_dict(dct, spec=spec, subprocess_specs=subprocess_specs)
