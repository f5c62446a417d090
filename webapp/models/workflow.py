"""Process versions, running instances, the inbox projection and written decisions."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Optional

import sqlalchemy as sa
import sqlalchemy.orm as so

from ..extensions import db
from .contracts import Contract
from .identity import User
from .types import UTCDateTime, utcnow

# Instance statuses
RUNNING = "running"
COMPLETED = "completed"
ERROR = "error"

# Human task statuses
OPEN = "open"
DONE = "completed"
CANCELLED = "cancelled"


class ProcessDefinition(db.Model):
    """One immutable deployed version of a flow (DESIGN rule 5).

    ``meta`` is what the engine derived from the diagram at deploy time (lanes, tasks and
    their properties, starter roles); ``forms`` snapshots every form the diagram names, so
    running instances keep the forms they started with.
    """

    __table_args__ = (sa.UniqueConstraint("key", "version", name="uq_process_definition_key_version"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    key: so.Mapped[str] = so.mapped_column(sa.String(80), index=True)
    version: so.Mapped[int]
    name: so.Mapped[str] = so.mapped_column(sa.String(200))
    # Read only when a process parses the version for the first time (its specs are then cached)
    # or the diagram is shown: every task and request loads its version, not its 20-40 KB of XML.
    bpmn: so.Mapped[bytes] = so.mapped_column(sa.LargeBinary, deferred=True)
    sha256: so.Mapped[str] = so.mapped_column(sa.String(64), index=True)
    forms: so.Mapped[dict[str, Any]] = so.mapped_column(sa.JSON)
    meta: so.Mapped[dict[str, Any]] = so.mapped_column(sa.JSON)
    note: so.Mapped[str] = so.mapped_column(sa.Text, default="")
    deployed_by_id: so.Mapped[Optional[int]] = so.mapped_column(sa.ForeignKey("user.id"))
    deployed_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)

    deployed_by: so.Mapped[Optional[User]] = so.relationship()

    def task_meta(self, spec_id: str) -> dict[str, Any]:
        return self.meta.get("tasks", {}).get(spec_id, {})


class ProcessInstance(db.Model):
    """A running or finished request. ``state`` holds the workflow without its spec."""

    __table_args__ = (
        sa.Index("ix_process_instance_contract_status", "contract_id", "status"),
        # The records listing, newest first: read backwards down to a page, not sorted whole.
        sa.Index("ix_process_instance_created", "created_at", "id"),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    definition_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("process_definition.id"), index=True)
    process_key: so.Mapped[str] = so.mapped_column(sa.String(80), index=True)
    contract_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("contract.id"))
    requester_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("user.id"), index=True)
    reference: so.Mapped[str] = so.mapped_column(sa.String(40), unique=True)
    title: so.Mapped[str] = so.mapped_column(sa.String(300))
    status: so.Mapped[str] = so.mapped_column(sa.String(20), default=RUNNING)
    outcome: so.Mapped[str] = so.mapped_column(sa.String(40), default="")
    state: so.Mapped[str] = so.mapped_column(sa.Text)
    serializer_version: so.Mapped[str] = so.mapped_column(sa.String(10))
    lock_version: so.Mapped[int] = so.mapped_column(default=1)
    next_timer_at: so.Mapped[Optional[datetime]] = so.mapped_column(UTCDateTime, index=True)
    # Incremented each time the requester (re)submits; decisions name the version they saw.
    request_version: so.Mapped[int] = so.mapped_column(default=0)
    request_data: so.Mapped[dict[str, Any]] = so.mapped_column(sa.JSON, default=dict)
    # BPMN ids the workflow completed, in completion order (repeats for loops), written with the
    # state on every save so the instance diagram needs no workflow JSON (DESIGN rule 3).
    path: so.Mapped[list[str]] = so.mapped_column(sa.JSON, default=list)
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)
    updated_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)
    completed_at: so.Mapped[Optional[datetime]] = so.mapped_column(UTCDateTime)

    definition: so.Mapped[ProcessDefinition] = so.relationship()
    contract: so.Mapped[Contract] = so.relationship()
    requester: so.Mapped[User] = so.relationship()

    __mapper_args__ = {"version_id_col": lock_version}


class HumanTask(db.Model):
    """Inbox projection of one READY user task (DESIGN rule 3).

    Everything the inbox filters or sorts on is denormalized here so that no inbox query
    touches workflow state.
    """

    __table_args__ = (
        sa.Index("ix_human_task_open_lane_contract", "status", "lane", "contract_id", "due_at"),
        sa.Index("ix_human_task_open_lane_department", "status", "lane", "department_id", "due_at"),
        sa.Index("ix_human_task_status_due", "status", "due_at"),
        sa.Index("ix_human_task_assignee_status", "assignee_id", "status"),
        sa.Index("ix_human_task_instance_spec", "instance_id", "spec_id"),
        sa.Index("ix_human_task_instance_status", "instance_id", "status"),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    instance_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("process_instance.id"))
    task_guid: so.Mapped[str] = so.mapped_column(sa.String(36), unique=True)
    spec_id: so.Mapped[str] = so.mapped_column(sa.String(120))
    title: so.Mapped[str] = so.mapped_column(sa.String(300))
    lane: so.Mapped[str] = so.mapped_column(sa.String(40))
    process_key: so.Mapped[str] = so.mapped_column(sa.String(80))
    contract_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("contract.id"))
    department_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("organization.id"))
    instance_reference: so.Mapped[str] = so.mapped_column(sa.String(40))
    instance_title: so.Mapped[str] = so.mapped_column(sa.String(300))
    requester_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("user.id"))
    assignee_id: so.Mapped[Optional[int]] = so.mapped_column(sa.ForeignKey("user.id"))
    status: so.Mapped[str] = so.mapped_column(sa.String(12), default=OPEN)
    due_at: so.Mapped[Optional[datetime]] = so.mapped_column(UTCDateTime)
    escalation_level: so.Mapped[int] = so.mapped_column(default=0)
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)
    completed_at: so.Mapped[Optional[datetime]] = so.mapped_column(UTCDateTime)
    completed_by_id: so.Mapped[Optional[int]] = so.mapped_column(sa.ForeignKey("user.id"))
    outcome: so.Mapped[str] = so.mapped_column(sa.String(40), default="")
    # What the person submitted when completing the step (shown in the history).
    submitted: so.Mapped[Optional[dict[str, Any]]] = so.mapped_column(sa.JSON)

    instance: so.Mapped[ProcessInstance] = so.relationship()
    contract: so.Mapped[Contract] = so.relationship()
    completed_by: so.Mapped[Optional[User]] = so.relationship(foreign_keys=[completed_by_id])
    assignee: so.Mapped[Optional[User]] = so.relationship(foreign_keys=[assignee_id])

    @property
    def is_open(self) -> bool:
        return self.status == OPEN


class TaskCandidate(db.Model):
    """A person added to a task beyond its lane: an escalation target or a substitute."""

    __table_args__ = (
        sa.UniqueConstraint("human_task_id", "user_id", name="uq_task_candidate_task_user"),
        # A person's candidacies (every request reads them for the person's scope) from the
        # index alone: with only user_id indexed, SQLite with statistics read every candidacy
        # of everyone through the unique constraint's index instead.
        sa.Index("ix_task_candidate_user_task", "user_id", "human_task_id"),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    human_task_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("human_task.id", ondelete="CASCADE"))
    user_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("user.id"))
    reason: so.Mapped[str] = so.mapped_column(sa.String(20))
    added_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)


class Decision(db.Model):
    """A written consent or refusal (DESIGN rule 8): numbered, attributable, printable."""

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    number: so.Mapped[str] = so.mapped_column(sa.String(40), unique=True)
    instance_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("process_instance.id"), index=True)
    human_task_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("human_task.id"))
    task_title: so.Mapped[str] = so.mapped_column(sa.String(300))
    outcome: so.Mapped[str] = so.mapped_column(sa.String(20))
    comment: so.Mapped[str] = so.mapped_column(sa.Text, default="")
    decided_by_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("user.id"))
    decided_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime)
    request_version: so.Mapped[int]
    content: so.Mapped[dict[str, Any]] = so.mapped_column(sa.JSON)
    content_sha256: so.Mapped[str] = so.mapped_column(sa.String(64))

    instance: so.Mapped[ProcessInstance] = so.relationship()
    decided_by: so.Mapped[User] = so.relationship()


class DocumentSequence(db.Model):
    """Gap-free counters for request and decision numbers, one row per series and year."""

    name: so.Mapped[str] = so.mapped_column(sa.String(40), primary_key=True)
    next_value: so.Mapped[int] = so.mapped_column(default=1)
