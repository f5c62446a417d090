"""A readable difference between two versions, computed from their stored ``meta``.

Compares what matters to the people who run a flow — names, lanes, forms, deadlines, the
four-eyes and segregation properties, decisions, service handlers and their parameters,
conditions and timers — element by element. Drawing changes (positions) and line numbers
are not differences.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from flask_babel import lazy_gettext as _l

ADDED, REMOVED, CHANGED = "added", "removed", "changed"

LABELS = {
    "name": _l("Name"), "type": _l("Element type"), "lane": _l("Lane (role)"), "form": _l("Form"),
    "due": _l("Deadline (due)"), "separate_from": _l("Different person from (separate_from)"),
    "not_requester": _l("Not the requester (not_requester)"), "decision": _l("Written decision"),
    "documentation": _l("Instructions"), "operator": _l("Service handler"), "result": _l("Result variable"),
    "condition": _l("Condition"), "source": _l("From"), "target": _l("To"), "timer": _l("Timer"),
    "interrupting": _l("Interrupting"), "attached_to": _l("Attached to"), "reference_prefix": _l("Reference prefix"),
    "title": _l("Request title expression"), "starters": _l("Who may start"), "lanes": _l("Lanes"),
}
KIND_LABELS = {
    "process": _l("Process"), "sequenceFlow": _l("Sequence flow"), "userTask": _l("User task"),
    "serviceTask": _l("Service task"), "boundaryEvent": _l("Boundary event"), "exclusiveGateway": _l("Gateway"),
    "parallelGateway": _l("Parallel gateway"), "startEvent": _l("Start event"), "endEvent": _l("End event"),
}


@dataclass
class Change:
    prop: str
    old: str
    new: str

    @property
    def label(self) -> str:
        if self.prop.startswith("parameter:"):
            return str(_l("Parameter %(name)s", name=self.prop.split(":", 1)[1]))
        return str(LABELS.get(self.prop, self.prop))


@dataclass
class ElementDiff:
    status: str
    element_id: str
    kind: str
    name: str
    changes: list[Change] = field(default_factory=list)

    @property
    def kind_label(self) -> str:
        return str(KIND_LABELS.get(self.kind, self.kind))


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    return str(value)


def _process_props(meta: Mapping[str, Any]) -> dict[str, str]:
    props = meta.get("properties", {})
    return {"name": meta.get("name", ""), "reference_prefix": meta.get("reference_prefix", ""),
            "title": meta.get("title", ""), "starters": _text(meta.get("starters", [])),
            "lanes": _text(meta.get("lanes", [])), **{k: v for k, v in props.items()
                                                       if k not in ("reference_prefix", "title", "starters")}}


def _node_props(meta: Mapping[str, Any], node_id: str,
                attached: tuple[str, Mapping[str, Any]] | None) -> dict[str, str]:
    """``attached``: the task this node is a boundary event of, and the boundary's entry."""
    node = meta["nodes"][node_id]
    props = {"name": node.get("name", ""), "type": node.get("type", ""), "lane": node.get("lane", "")}
    task = meta.get("tasks", {}).get(node_id)
    if task is not None:
        for key in ("form", "due", "separate_from", "not_requester", "decision", "documentation"):
            props[key] = _text(task.get(key))
    service = meta.get("services", {}).get(node_id)
    if service is not None:
        props["operator"] = service.get("operator", "")
        props["result"] = service.get("result", "")
        for name, value in service.get("params", {}).items():
            props[f"parameter:{name}"] = value
    if attached is not None:
        attached_to, boundary = attached
        props["attached_to"] = attached_to
        props["interrupting"] = _text(boundary.get("cancel"))
        props["timer"] = f"{boundary.get('timer_kind') or ''} {boundary.get('timer') or ''}".strip()
    return props


def _flow_props(flow: Mapping[str, Any]) -> dict[str, str]:
    return {"name": flow.get("name") or "", "source": flow["source"], "target": flow["target"],
            "condition": flow.get("condition") or ""}


def _elements(meta: Mapping[str, Any]) -> dict[str, tuple[str, dict[str, str]]]:
    out: dict[str, tuple[str, dict[str, str]]] = {}
    if not meta:
        return out
    out[meta["key"]] = ("process", _process_props(meta))
    attached = {b["id"]: (target, b) for target, bs in meta.get("boundaries", {}).items() for b in bs}
    for node_id in meta["order"]:  # every node, in reading order (parse.describe)
        if node_id in meta["nodes"]:
            out[node_id] = (meta["nodes"][node_id]["type"], _node_props(meta, node_id, attached.get(node_id)))
    for flow in meta.get("flows", []):
        out[flow["id"]] = ("sequenceFlow", _flow_props(flow))
    return out


def compare(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[ElementDiff]:
    """Elements added, removed and changed from ``old`` to ``new`` (the process first, then
    nodes in the new version's reading order, then flows)."""
    before, after = _elements(old), _elements(new)
    out: list[ElementDiff] = []
    keys = list(after) + [k for k in before if k not in after]
    for element_id in keys:
        if element_id not in before:
            kind, props = after[element_id]
            out.append(ElementDiff(ADDED, element_id, kind, props.get("name", ""),
                                   [Change(k, "", v) for k, v in props.items() if v and k != "type"]))
        elif element_id not in after:
            kind, props = before[element_id]
            out.append(ElementDiff(REMOVED, element_id, kind, props.get("name", ""),
                                   [Change(k, v, "") for k, v in props.items() if v and k != "type"]))
        else:
            kind, props = after[element_id]
            _, was = before[element_id]
            changes = [Change(k, was.get(k, ""), props.get(k, "")) for k in list(props) + [k for k in was if k not in props]
                       if was.get(k, "") != props.get(k, "")]
            if changes:
                out.append(ElementDiff(CHANGED, element_id, kind, props.get("name") or was.get("name", ""), changes))
    return out
