"""From BPMN bytes to SpiffWorkflow specs plus the metadata the rest of the app reads.

:func:`describe` reads the diagram's graph (lanes, tasks and their ``spiffworkflow``
properties, flows, boundary timers, service operators) into a plain dict stored with the
version, so the inbox, the forms and the guardrails never need SpiffWorkflow objects.
:func:`check` lists every problem with element id, name and line, for deploy and lint.
"""
from __future__ import annotations

import ast
import logging
import re
from collections import deque
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from flask_babel import lazy_gettext as _l
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.spiff.parser import VALIDATOR

from ..models.workflow import HumanTask, ProcessDefinition, ProcessInstance
from . import sandbox
from .calendar import parse_due
from .timers import ShodakuParser, duration, fire_time

logger = logging.getLogger(__name__)

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
NS = {"bpmn": BPMN_NS, "spiffworkflow": SPIFF_NS}

FLOW_NODE_TAGS = {
    "startEvent", "endEvent", "userTask", "manualTask", "serviceTask", "scriptTask", "task",
    "exclusiveGateway", "parallelGateway", "inclusiveGateway", "eventBasedGateway",
    "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent", "callActivity", "subProcess",
    "sendTask", "receiveTask", "businessRuleTask",
}
# Where a run stops until a person or a timer acts; every loop must pass one (see _endless_loops).
WAITING_TAGS = {"userTask", "manualTask", "task", "receiveTask", "intermediateCatchEvent", "boundaryEvent",
                "eventBasedGateway"}
DECISION_OUTCOMES = ("approve", "reject", "send_back")
TRUE_VALUES = ("true", "1", "yes")


@dataclass
class Problem:
    """One thing wrong with a diagram, located so a process owner can find it."""

    element_id: str
    message: Any  # str or lazy string
    name: str = ""
    line: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"element_id": self.element_id, "name": self.name, "line": self.line, "message": str(self.message)}

    def __str__(self) -> str:
        where = self.element_id or "-"
        if self.line:
            where += f" (line {self.line})"
        return f"{where}: {self.message}"


@dataclass
class Parsed:
    key: str
    name: str
    meta: dict[str, Any]
    root: etree._Element
    problems: list[Problem] = field(default_factory=list)


def _local(tag: Any) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def _properties(node: etree._Element) -> dict[str, str]:
    props = {}
    for prop in node.xpath("./bpmn:extensionElements/spiffworkflow:properties/spiffworkflow:property", namespaces=NS):
        if prop.get("name"):
            props[prop.get("name")] = prop.get("value", "")
    return props


def _text(node: etree._Element, xpath: str) -> str | None:
    found = node.xpath(xpath, namespaces=NS)
    if not found:
        return None
    value = found[0] if isinstance(found[0], str) else found[0].text
    return (value or "").strip()


def describe(root: etree._Element) -> tuple[dict[str, Any], list[Problem]]:
    """Read the one executable process of a diagram into plain data."""
    problems: list[Problem] = []
    if _local(root.tag) != "definitions" or etree.QName(root.tag).namespace != BPMN_NS:
        return {}, [Problem("", _l("This is not a BPMN 2.0 file (the root element must be bpmn:definitions)."),
                            line=root.sourceline)]
    processes = root.xpath("./bpmn:process", namespaces=NS)
    executable = [p for p in processes if p.get("isExecutable", "true").lower() == "true"]
    if len(executable) != 1:
        # Point at the process to fix: the second executable one, or the one not marked executable.
        culprit = executable[1] if len(executable) > 1 else (processes[0] if processes else root)
        return {}, [Problem(culprit.get("id", ""), _l("A diagram must contain exactly one executable process; "
                                                      "found %(n)s.", n=len(executable)), line=culprit.sourceline)]
    process = executable[0]
    key = process.get("id", "")
    problems.extend(_id_clashes(root))
    lane_of: dict[str, str] = {}
    lanes: list[str] = []
    lane_nodes: list[dict[str, Any]] = []
    for lane in process.xpath(".//bpmn:lane", namespaces=NS):
        lane_name = (lane.get("name") or "").strip()
        lanes.append(lane_name)
        lane_nodes.append({"id": lane.get("id", ""), "name": lane_name, "line": lane.sourceline})
        for ref in lane.xpath("./bpmn:flowNodeRef", namespaces=NS):
            lane_of[(ref.text or "").strip()] = lane_name

    nodes: dict[str, dict[str, Any]] = {}
    tasks: dict[str, dict[str, Any]] = {}
    services: dict[str, dict[str, Any]] = {}
    boundaries: dict[str, list[dict[str, Any]]] = {}
    scripts: list[tuple[str, str]] = []
    timers: list[tuple[str, str, str]] = []  # (element id, timeDate | timeDuration | timeCycle, expression)
    for node in process.iter():
        kind = _local(node.tag)
        if kind not in FLOW_NODE_TAGS or etree.QName(node.tag).namespace != BPMN_NS:
            continue
        node_id = node.get("id", "")
        name = (node.get("name") or "").strip()
        props = _properties(node)
        entry: dict[str, Any] = {"type": kind, "name": name, "lane": lane_of.get(node_id, ""), "line": node.sourceline}
        if props:
            entry["properties"] = props
        nodes[node_id] = entry
        if kind in ("userTask", "manualTask"):
            tasks[node_id] = {
                "name": name or node_id, "lane": entry["lane"], "form": props.get("form", ""),
                "due": props.get("due", ""), "separate_from": props.get("separate_from", ""),
                "not_requester": props.get("not_requester", "").lower() in TRUE_VALUES,
                "decision": props.get("decision", "").lower() in TRUE_VALUES,
                "documentation": _text(node, "./bpmn:documentation") or "",
                "line": node.sourceline,
            }
        elif kind == "serviceTask":
            operator = node.xpath("./bpmn:extensionElements/spiffworkflow:serviceTaskOperator", namespaces=NS)
            params = {}
            if operator:
                for param in operator[0].xpath(".//spiffworkflow:parameter", namespaces=NS):
                    params[param.get("id", "")] = param.get("value", "")
            services[node_id] = {"operator": operator[0].get("id", "") if operator else "", "params": params,
                                 "result": operator[0].get("resultVariable", "") if operator else ""}
        elif kind == "boundaryEvent":
            timer = node.xpath("./bpmn:timerEventDefinition/*", namespaces=NS)
            boundaries.setdefault(node.get("attachedToRef", ""), []).append({
                "id": node_id, "cancel": node.get("cancelActivity", "true").lower() == "true",
                "timer": (timer[0].text or "").strip() if timer else None,
                "timer_kind": _local(timer[0].tag) if timer else None,
            })
        if kind == "scriptTask":
            scripts.append((node_id, _text(node, "./bpmn:script") or ""))
        for ext in ("preScript", "postScript"):
            value = _text(node, f"./bpmn:extensionElements/spiffworkflow:{ext}")
            if value:
                scripts.append((node_id, value))
        if node.xpath("./bpmn:multiInstanceLoopCharacteristics | ./bpmn:standardLoopCharacteristics", namespaces=NS):
            problems.append(Problem(node_id, _l("Loop and multi-instance markers are not supported (a count from the "
                                                "data could create any number of steps); draw the loop with a "
                                                "gateway instead."), name=name, line=node.sourceline))
        for timer in node.xpath("./bpmn:timerEventDefinition/*", namespaces=NS):
            if _local(timer.tag) == "timeCycle":
                problems.append(Problem(node_id, _l("Cycle timers (timeCycle) are not supported; use a timeDate "
                                                    "such as deadline(\"3bd\")."), name=name, line=node.sourceline))
            timers.append((node_id, _local(timer.tag), (timer.text or "").strip()))

    flows = []
    for flow in process.iter(f"{{{BPMN_NS}}}sequenceFlow"):
        flows.append({
            "id": flow.get("id", ""), "source": flow.get("sourceRef", ""), "target": flow.get("targetRef", ""),
            "name": flow.get("name", ""), "condition": _text(flow, "./bpmn:conditionExpression"),
            "line": flow.sourceline,
        })
    process_props = _properties(process)
    starts = [n.get("id", "") for n in process.xpath("./bpmn:startEvent", namespaces=NS)]
    meta: dict[str, Any] = {
        "key": key, "name": (process.get("name") or key).strip(), "line": process.sourceline,
        "lanes": lanes, "lane_nodes": lane_nodes, "nodes": nodes,
        "tasks": tasks, "services": services, "boundaries": boundaries, "flows": flows,
        "properties": process_props, "scripts": scripts, "timers": timers,
        "reference_prefix": process_props.get("reference_prefix", key[:3].upper()),
        "title": process_props.get("title", ""),
    }
    if len(starts) != 1:
        problems.append(Problem(key, _l("The process must have exactly one start event; found %(n)s.", n=len(starts)),
                                line=process.sourceline))
        meta["start_task"] = None
        meta["starters"] = []
    else:
        start_task = _first_user_task(starts[0], flows, nodes)
        meta["start_task"] = start_task
        starters = [s.strip() for s in process_props.get("starters", "").split(",") if s.strip()]
        meta["starters"] = starters or ([nodes[starts[0]]["lane"]] if nodes[starts[0]]["lane"] else [])
        if start_task is None:
            problems.append(Problem(starts[0], _l("No user task follows the start event: the request form "
                                                  "is the first user task after it.")))
    meta["order"] = _order(starts[0] if starts else None, flows, nodes)
    return meta, problems


def _id_clashes(root: etree._Element) -> list[Problem]:
    """BPMN ids must be unique, and no spiffworkflow element (operator, parameter) may reuse one:
    SpiffWorkflow finds nodes by id across the document and would parse the wrong element."""
    problems: list[Problem] = []
    bpmn_ids: dict[str, int] = {}
    for element in root.iter(f"{{{BPMN_NS}}}*"):
        element_id = element.get("id")
        if not element_id:
            continue
        if element_id in bpmn_ids:
            problems.append(Problem(element_id, _l("The id %(id)s is used twice (also on line %(line)s).",
                                                   id=repr(element_id), line=bpmn_ids[element_id]),
                                    line=element.sourceline))
        bpmn_ids.setdefault(element_id, element.sourceline)
    for element in root.iter(f"{{{SPIFF_NS}}}*"):
        element_id = element.get("id")
        if element_id in bpmn_ids:
            problems.append(Problem(element_id, _l("%(id)s is both an element id (line %(line)s) and a service "
                                                   "operator or parameter name; rename the element.",
                                                   id=repr(element_id), line=bpmn_ids[element_id]),
                                    line=element.sourceline))
    return problems


def _first_user_task(start: str, flows: list[dict[str, Any]], nodes: Mapping[str, dict[str, Any]]) -> str | None:
    """The request task: the first user task reachable from the start without passing another user task."""
    outgoing: dict[str, list[str]] = {}
    for flow in flows:
        outgoing.setdefault(flow["source"], []).append(flow["target"])
    seen, queue = {start}, deque([start])
    while queue:
        current = queue.popleft()
        for target in outgoing.get(current, []):
            if target in seen:
                continue
            seen.add(target)
            if nodes.get(target, {}).get("type") == "userTask":
                return target
            queue.append(target)
    return None


def _order(start: str | None, flows: list[dict[str, Any]], nodes: Mapping[str, dict[str, Any]]) -> list[str]:
    """Flow nodes in breadth-first order from the start: the reading order of the steps."""
    if start is None:
        return list(nodes)
    outgoing: dict[str, list[str]] = {}
    for flow in flows:
        outgoing.setdefault(flow["source"], []).append(flow["target"])
    order, seen, queue = [], {start}, deque([start])
    while queue:
        current = queue.popleft()
        order.append(current)
        for target in outgoing.get(current, []):
            if target not in seen:
                seen.add(target)
                queue.append(target)
    order.extend(n for n in nodes if n not in seen)
    return order


def build_specs(root: etree._Element, key: str, filename: str = "diagram.bpmn") -> tuple[Any, dict[str, Any]]:
    """Hand the already-safe tree to SpiffWorkflow; XSD validation on. Raises ValidationException,
    located: SpiffWorkflow gives semantic errors an id but no line, and XSD errors a line but no id."""
    parser = ShodakuParser(validator=VALIDATOR)
    try:
        parser.add_bpmn_xml(etree.ElementTree(root), filename=filename)
        return parser.get_spec(key), parser.get_subprocess_specs(key)
    except ValidationException as err:
        _locate(err, root)
        raise


def _locate(err: ValidationException, root: etree._Element) -> None:
    if err.id and not isinstance(err.line_number, int):
        found = root.xpath("//*[@id=$id]", id=err.id)
        if found:
            err.line_number = found[0].sourceline
    elif not err.id and isinstance(err.line_number, int):
        on_line = next((e for e in root.iter() if e.sourceline == err.line_number), None)
        while on_line is not None and not on_line.get("id"):
            on_line = on_line.getparent()
        if on_line is not None:
            err.id = on_line.get("id")


def spiff_problem(err: ValidationException) -> Problem:
    line = err.line_number if isinstance(err.line_number, int) else None
    message = str(err).split("\n")[0]
    return Problem(err.id or "", _l("Rejected by the BPMN engine: %(detail)s", detail=message),
                   name=err.name or "", line=line)


def check(meta: Mapping[str, Any], *, roles: Collection[str], handlers: Collection[str],
          forms: Mapping[str, Any], functions: Mapping[str, Callable[..., Any]]) -> list[Problem]:
    """Every rule a deployable diagram must satisfy beyond what SpiffWorkflow checks."""
    problems: list[Problem] = []
    nodes, tasks = meta["nodes"], meta["tasks"]

    def add(node_id: str, message: Any) -> None:
        node = nodes.get(node_id, {})
        line = node.get("line") if node else (meta.get("line") if node_id == meta["key"] else None)
        problems.append(Problem(node_id, message, name=node.get("name", ""), line=line))

    problems.extend(_check_sizes(meta))
    for lane in meta["lane_nodes"]:
        if lane["name"] not in roles:
            message = _l("Lane %(lane)s is not a known role; lanes must be one of: %(roles)s.",
                         lane=repr(lane["name"]), roles=", ".join(sorted(roles)))
            problems.append(Problem(lane["id"], message, name=lane["name"], line=lane["line"]))
    for starter in meta["starters"]:
        if starter not in roles:
            add(meta["key"], _l("Starter role %(role)s is not a known role.", role=repr(starter)))
    if not meta["starters"]:
        add(meta["key"], _l("Nobody can start this process: put the start event in a lane "
                            "or set the process property 'starters'."))
    for target, events in meta["boundaries"].items():
        if target not in nodes:
            for event in events:
                add(event["id"], _l("This boundary event is attached to %(target)s, which is not an element of "
                                    "this process.", target=repr(target)))
    for task_id, task in tasks.items():
        if not task["lane"]:
            add(task_id, _l("User task is not in a lane, so nobody could see it."))
        if task["form"]:
            schema = forms.get(task["form"])
            if schema is None:
                add(task_id, _l("Form %(form)s does not exist in processes/forms/.", form=task["form"]))
            else:
                problems.extend(_check_form(task_id, task, schema, nodes))
        elif task_id == meta.get("start_task") or task["decision"]:
            add(task_id, _l("This task needs a form (property 'form')."))
        if task["due"]:
            try:
                parse_due(task["due"])
            except ValueError:
                add(task_id, _l("Property 'due' must look like 3bd (business days), 2d (days) or 4h (hours), "
                                "not %(value)s.", value=repr(task["due"])))
        if task["separate_from"] and task["separate_from"] not in tasks:
            add(task_id, _l("Property 'separate_from' names %(other)s, which is not a user task of this process.",
                            other=repr(task["separate_from"])))
    for service_id, service in meta["services"].items():
        if service["operator"] not in handlers:
            add(service_id, _l("Service task calls %(name)s, which is not a registered handler. Registered: "
                               "%(known)s.", name=repr(service["operator"]), known=", ".join(sorted(handlers))))
        for param, expression in service["params"].items():
            _check_expr(add, service_id, expression, functions, what=_l("parameter %(p)s", p=param))
    for flow in meta["flows"]:
        if flow["condition"]:
            try:
                sandbox.check_expression(flow["condition"], functions)
            except sandbox.SandboxError as err:
                problems.append(Problem(flow["id"], _l("Condition refused: %(detail)s", detail=err),
                                        name=flow["name"], line=flow["line"]))
        if flow["source"] not in nodes or flow["target"] not in nodes:
            problems.append(Problem(flow["id"], _l("Sequence flow connects an element that does not exist."),
                                    line=flow["line"]))
    problems.extend(_endless_loops(meta))
    for node_id, kind, expression in meta["timers"]:
        _check_expr(add, node_id, expression, functions, what=_l("timer"))
        _check_constant_timer(add, node_id, kind, expression)
    if meta.get("title"):
        _check_expr(add, meta["key"], meta["title"], functions, what=_l("process property 'title'"))
    for node_id, script in meta["scripts"]:
        try:
            sandbox.check_script(script)
        except sandbox.SandboxError as err:
            add(node_id, _l("Script refused: %(detail)s", detail=err))
    return problems


# Where what a diagram names is stored, read off the columns so the checks follow the schema.
KEY_LENGTH = ProcessDefinition.__table__.c.key.type.length  # the refusal's wording says 80
PROCESS_NAME_LENGTH = ProcessDefinition.__table__.c.name.type.length
ELEMENT_ID_LENGTH = HumanTask.__table__.c.spec_id.type.length
ELEMENT_NAME_LENGTH = HumanTask.__table__.c.title.type.length
OUTCOME_LENGTH = ProcessInstance.__table__.c.outcome.type.length
PREFIX = re.compile(r"^[A-Z][A-Z0-9]{0,9}$")
KEY = re.compile(rf"^[A-Za-z][A-Za-z0-9_]{{0,{KEY_LENGTH - 1}}}$")


def _check_sizes(meta: Mapping[str, Any]) -> list[Problem]:
    """What a diagram names must fit where it is stored (request numbers, inbox titles, how a
    request ended): too long would fail at flush on PostgreSQL, as a 500 for every run."""
    problems: list[Problem] = []
    key, line = meta["key"], meta.get("line")
    if not KEY.match(key):
        problems.append(Problem(key, _l("The process id must be letters, digits and underscores, starting with a "
                                        "letter, at most 80 characters."), line=line))
    if not PREFIX.match(meta.get("reference_prefix", "")):
        problems.append(Problem(key, _l("The process property 'reference_prefix' must be 1 to 10 capital letters or "
                                        "digits, starting with a letter (e.g. CPY)."), line=line))
    if len(meta.get("name", "")) > PROCESS_NAME_LENGTH:
        problems.append(Problem(key, _l("The process name is longer than %(n)s characters.", n=PROCESS_NAME_LENGTH),
                                line=line))
    for node_id, node in meta["nodes"].items():
        if len(node_id) > ELEMENT_ID_LENGTH or len(node.get("name", "")) > ELEMENT_NAME_LENGTH:
            problems.append(Problem(node_id, _l("The element id (at most %(i)s characters) or name (at most %(n)s) "
                                                "is too long.", i=ELEMENT_ID_LENGTH, n=ELEMENT_NAME_LENGTH),
                                    line=node.get("line")))
        if node["type"] == "endEvent" and len(node.get("properties", {}).get("outcome", "")) > OUTCOME_LENGTH:
            problems.append(Problem(node_id, _l("The end event's property 'outcome' is longer than %(n)s "
                                                "characters.", n=OUTCOME_LENGTH), name=node.get("name", ""),
                                    line=node.get("line")))
    return problems


def _check_expr(add: Callable[[str, Any], None], node_id: str, expression: str,
                functions: Mapping[str, Callable[..., Any]], what: Any) -> None:
    if not expression:
        add(node_id, _l("The %(what)s expression is empty.", what=what))
        return
    try:
        sandbox.check_expression(expression, functions)
    except sandbox.SandboxError as err:
        add(node_id, _l("The %(what)s expression is refused: %(detail)s", what=what, detail=err))


def _endless_loops(meta: Mapping[str, Any]) -> list[Problem]:
    """Loops made only of automatic steps (gateways, scripts, services) would run within one action
    until the engine gives up, each turn up to a script's time limit: every loop must wait somewhere."""
    nodes = meta["nodes"]
    automatic = {n for n, node in nodes.items() if node["type"] not in WAITING_TAGS}
    edges = [(f["source"], f["target"]) for f in meta["flows"] if f["source"] in automatic and f["target"] in automatic]
    # Peel off steps that cannot be on a loop (nothing comes in, or nothing goes out); what remains loops.
    remaining = set(automatic)
    while True:
        inside = [(a, b) for a, b in edges if a in remaining and b in remaining]
        sources, targets = {a for a, _ in inside}, {b for _, b in inside}
        keep = remaining & sources & targets
        if keep == remaining:
            break
        remaining = keep
    if not remaining:
        return []
    ordered = sorted(remaining, key=lambda n: nodes[n].get("line") or 0)
    first = nodes[ordered[0]]
    return [Problem(ordered[0], _l("The steps %(ids)s form a loop with no user task or timer, so a run could go "
                                   "round it without end; put a user task or a timer on the loop.",
                                   ids=", ".join(ordered)), name=first.get("name", ""), line=first.get("line"))]


def _check_constant_timer(add: Callable[[str, Any], None], node_id: str, kind: str, expression: str) -> None:
    """A timer written as a constant can be checked now rather than failing every run that reaches it."""
    try:
        tree = sandbox.parse_expression(expression)
    except sandbox.SandboxError:
        return  # already refused as an expression
    if not isinstance(tree.body, ast.Constant):
        return  # computed, e.g. deadline("3bd"): checked when it runs
    value = tree.body.value
    try:
        if kind == "timeDate":
            fire_time(value)
        elif kind == "timeDuration":
            duration(value, datetime(2000, 1, 1, tzinfo=timezone.utc))  # only its form is checked
    except (ValueError, OverflowError) as err:
        add(node_id, _l("The %(what)s expression is refused: %(detail)s", what=_l("timer"), detail=str(err)))


def _check_form(task_id: str, task: Mapping[str, Any], schema: Any, nodes: Mapping[str, Any]) -> list[Problem]:
    node = nodes.get(task_id, {})

    def problem(message: Any) -> Problem:
        return Problem(task_id, message, name=node.get("name", ""), line=node.get("line"))

    if not isinstance(schema, dict) or schema.get("type") != "object":
        return [problem(_l("Form %(form)s must be a JSON Schema of type object.", form=task["form"]))]
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as err:
        return [problem(_l("Form %(form)s is not a valid JSON Schema: %(detail)s", form=task["form"],
                           detail=err.message))]
    if task["decision"]:
        decision = schema.get("properties", {}).get("decision", {})
        outcomes = decision.get("enum", [])
        if "decision" not in schema.get("required", []) or not outcomes or \
                any(o not in DECISION_OUTCOMES for o in outcomes):
            return [problem(_l("A decision task's form must require a field 'decision' whose values are among "
                               "approve, reject, send_back."))]
    return []
