"""The instance diagram: the version's BPMN with the path the request has taken.

Computed from rows, never from workflow JSON (DESIGN rule 3): ``process_instance.path`` holds
the BPMN ids the workflow completed, in order, written by the engine on every save; the open
``human_task`` rows are the steps waiting. The flows drawn are read off that order on the
version's stored graph (``meta["flows"]``), so a branch chosen on a service task's result is
drawn as the engine took it.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import current_app, jsonify
from flask_login import login_required

from ..extensions import db
from ..models import HumanTask, ProcessInstance
from ..models.workflow import DONE, OPEN
from ..views_support import get_instance
from . import bp

# Joins wait for several incoming flows: each one that arrived since the join last ran was taken.
JOINS = ("parallelGateway", "inclusiveGateway")


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


def trace(instance: ProcessInstance) -> dict[str, list[str]]:
    """The completed nodes (in completion order), the current ones and the sequence flows taken, in diagram ids."""
    rows = db.session.execute(sa.select(HumanTask.spec_id, HumanTask.status).where(
        HumanTask.instance_id == instance.id, HumanTask.status.in_((DONE, OPEN)))
        .order_by(HumanTask.completed_at, HumanTask.id)).all()
    current = sorted({spec_id for spec_id, status in rows if status == OPEN})
    # Instances saved before the path was stored (migration path1instpath01) have none until their
    # next action: their diagram shows only the steps people did, as the human_task rows tell.
    path = list(instance.path or []) or [spec_id for spec_id, status in rows if status == DONE]
    meta = instance.definition.meta
    return {"completed": [n for n in dict.fromkeys(path) if n not in current], "current": current,
            "flows": _flows_taken([*path, *current], meta.get("flows", []), meta.get("nodes", {}))}


def _flows_taken(visits: Sequence[str], flows: Sequence[Mapping[str, Any]],
                 nodes: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """The flow into each visit from the step that led there: from the most recently visited of
    its sources (a merge or a loop back is entered from exactly one), or, into a join, from every
    source visited since the join last ran."""
    incoming: dict[str, list[Mapping[str, Any]]] = {}
    for flow in flows:
        incoming.setdefault(flow["target"], []).append(flow)
    last_visit: dict[str, int] = {}
    taken: dict[str, None] = {}  # ordered set: flows in the order first taken
    for position, node in enumerate(visits):
        arrived = [(last_visit[f["source"]], f["id"]) for f in incoming.get(node, []) if f["source"] in last_visit]
        if nodes.get(node, {}).get("type") in JOINS:
            since = last_visit.get(node, -1)
            taken.update((flow_id, None) for visit, flow_id in arrived if visit > since)
        elif arrived:
            taken[max(arrived)[1]] = None
        last_visit[node] = position
    return list(taken)
