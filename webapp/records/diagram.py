"""The instance diagram: the version's BPMN with the path the request has taken.

Computed from rows, never from workflow JSON (DESIGN rule 3): the completed and open
``human_task`` rows give the steps people did and the steps waiting; between two steps the
path is re-traced on the version's stored graph (``meta["flows"]``), choosing at each
exclusive gateway the flow whose condition holds for the data submitted so far (evaluated by
the same sandbox as the engine; an expression that cannot be evaluated counts as false).
Reminders and escalations in the audit log mark their timer branches.
"""
from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import current_app, jsonify
from flask_login import login_required

from ..engine import sandbox
from ..extensions import db
from ..models import AuditEvent, HumanTask, ProcessInstance
from ..models.workflow import DONE, OPEN
from ..views_support import get_instance
from . import bp

PEOPLE_STEPS = ("userTask", "manualTask")
CHOOSING_GATEWAYS = ("exclusiveGateway", "inclusiveGateway")
# Audit actions written by the escalation handlers -> the handler whose branch they prove ran.
TIMER_BRANCHES = {"task_reminded": "remind", "task_escalated": "escalate"}


@bp.route("/<int:instance_id>/diagram.json")
@login_required
def diagram(instance_id: int):
    """``{"xml", "completed", "current", "flows"}`` for the bpmn-js viewer.

    :raise 404: no such request, or one the user may not see (exactly as the instance page)
    """
    instance = get_instance(instance_id)
    return jsonify(xml=instance.definition.bpmn.decode("utf-8", "replace"), **trace(instance))


@bp.app_template_global()
def diagram_viewer_ready() -> bool:
    """Whether the viewer bundle was built (``make setup``); without it the partial shows nothing."""
    return (Path(current_app.static_folder or "") / "vendor" / "viewer.js").is_file()


def _truthy(expression: str, data: Mapping[str, Any]) -> bool:
    try:
        return bool(sandbox.evaluate(expression, data, sandbox.SAFE_FUNCTIONS))
    except Exception:  # noqa: BLE001 - missing data or a refused expression: not the branch taken
        return False


class _Tracer:
    def __init__(self, meta: Mapping[str, Any]):
        self.nodes = meta.get("nodes", {})
        self.outgoing: dict[str, list[dict[str, Any]]] = {}
        for flow in meta.get("flows", []):
            self.outgoing.setdefault(flow["source"], []).append(flow)
        self.boundaries = meta.get("boundaries", {})
        self.services = meta.get("services", {})
        self.completed: set[str] = set()
        self.flows: list[str] = []

    def _chosen(self, node_id: str, data: Mapping[str, Any]) -> list[dict[str, Any]]:
        flows = self.outgoing.get(node_id, [])
        if self.nodes.get(node_id, {}).get("type") not in CHOOSING_GATEWAYS:
            return flows
        true = [f for f in flows if f.get("condition") and _truthy(f["condition"], data)]
        if self.nodes[node_id]["type"] == "exclusiveGateway":
            true = true[:1]
        return true or [f for f in flows if not f.get("condition")]

    def walk(self, start: str, data: Mapping[str, Any]) -> tuple[set[str], list[str]]:
        """Nodes and flows from ``start`` up to (not including) the next people's steps."""
        nodes, flows, seen, queue = set(), [], {start}, deque([start])
        while queue:
            for flow in self._chosen(queue.popleft(), data):
                flows.append(flow["id"])
                target = flow["target"]
                if target in seen or self.nodes.get(target, {}).get("type") in PEOPLE_STEPS:
                    continue
                seen.add(target)
                nodes.add(target)
                queue.append(target)
        return nodes, flows

    def follow(self, start: str, data: Mapping[str, Any]) -> None:
        nodes, flows = self.walk(start, data)
        self.completed |= nodes
        self.flows.extend(f for f in flows if f not in self.flows)

    def timer_branch(self, task: str, operator: str, data: Mapping[str, Any]) -> None:
        for boundary in self.boundaries.get(task, []):
            nodes, flows = self.walk(boundary["id"], data)
            if any(self.services.get(n, {}).get("operator") == operator for n in nodes):
                self.completed |= nodes | {boundary["id"]}
                self.flows.extend(f for f in flows if f not in self.flows)


def trace(instance: ProcessInstance) -> dict[str, list[str]]:
    """The completed nodes, the current ones and the sequence flows taken, in diagram ids."""
    meta = instance.definition.meta
    tracer = _Tracer(meta)
    rows = db.session.scalars(sa.select(HumanTask).where(HumanTask.instance_id == instance.id)
                              .order_by(HumanTask.id)).all()
    done = sorted((r for r in rows if r.status == DONE), key=lambda r: (r.completed_at or r.created_at, r.id))
    current = sorted({r.spec_id for r in rows if r.status == OPEN})
    data: dict[str, Any] = {"requester": instance.requester.username, "contract_number": instance.contract.number}
    starts = [n for n in (meta.get("order") or [])[:1] if meta["nodes"].get(n, {}).get("type") == "startEvent"]
    for start in starts:
        tracer.completed.add(start)
        tracer.follow(start, data)
    first = meta.get("start_task")
    if first and instance.request_version >= 1:  # filed with the start: it has no inbox row of its own
        data.update(instance.request_data or {})
        tracer.completed.add(first)
        tracer.follow(first, data)
    for row in done:
        data.update(row.submitted or {})
        tracer.completed.add(row.spec_id)
        tracer.follow(row.spec_id, data)
    events = db.session.scalars(sa.select(AuditEvent).where(
        AuditEvent.instance_id == instance.id, AuditEvent.action.in_(TIMER_BRANCHES)).order_by(AuditEvent.seq))
    for event in events:
        task = (event.detail or {}).get("task")
        if task:
            tracer.timer_branch(task, TIMER_BRANCHES[event.action], data)
    completed = [n for n in meta.get("order", []) if n in tracer.completed and n not in current]
    return {"completed": completed, "current": current, "flows": tracer.flows}
