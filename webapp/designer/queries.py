"""What the designer pages list: flows, their versions, and who runs on which version."""
from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import abort

from .. import engine
from ..engine.parse import KEY
from ..extensions import db
from ..models import ProcessDefinition, ProcessInstance, User
from ..models.designer import DesignDraft
from ..models.workflow import RUNNING
from . import drafts

# What a version list shows (number, date, who, note): the diagram, its meta and forms stay in the database.
LISTING = (so.defer(ProcessDefinition.bpmn), so.defer(ProcessDefinition.meta), so.defer(ProcessDefinition.forms),
           so.selectinload(ProcessDefinition.deployed_by))


@dataclass
class FlowRow:
    key: str
    name: str
    latest: ProcessDefinition | None
    versions: int
    running: int
    draft: DesignDraft | None


def flows(user: User) -> list[FlowRow]:
    """Every deployed flow, plus flows that exist only as this user's draft (new uploads)."""
    counts = dict(db.session.execute(
        sa.select(ProcessDefinition.key, sa.func.count()).group_by(ProcessDefinition.key)).all())
    running = dict(db.session.execute(
        sa.select(ProcessInstance.process_key, sa.func.count()).where(ProcessInstance.status == RUNNING)
        .group_by(ProcessInstance.process_key)).all())
    mine = drafts.for_user(user)
    rows = [FlowRow(d.key, d.name, d, counts.get(d.key, 0), running.get(d.key, 0), mine.get(d.key))
            for d in engine.latest_versions(*LISTING)]
    known = {r.key for r in rows}
    rows.extend(FlowRow(key, key, None, 0, 0, draft) for key, draft in mine.items() if key not in known)
    return rows


def versions(key: str) -> list[ProcessDefinition]:
    """Every version of the flow, newest first, loaded for listing (:data:`LISTING`)."""
    return list(db.session.scalars(sa.select(ProcessDefinition).options(*LISTING)
                                   .where(ProcessDefinition.key == key).order_by(ProcessDefinition.version.desc())))


def running_by_version(key: str) -> dict[int, int]:
    return dict(db.session.execute(
        sa.select(ProcessDefinition.version, sa.func.count(ProcessInstance.id))
        .join(ProcessInstance, ProcessInstance.definition_id == ProcessDefinition.id)
        .where(ProcessDefinition.key == key, ProcessInstance.status == RUNNING)
        .group_by(ProcessDefinition.version)).all())


def get_version(key: str, version: int) -> ProcessDefinition:
    """:raise 404: no such version of the flow"""
    definition = db.session.scalar(sa.select(ProcessDefinition).where(
        ProcessDefinition.key == key, ProcessDefinition.version == version))
    if definition is None:
        abort(404)
    return definition


def check_key(key: str) -> str:
    """:raise 404: not a usable process key (also keeps keys out of file names)"""
    if not KEY.fullmatch(key):
        abort(404)
    return key
