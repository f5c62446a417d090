"""The script engine for one action: sandbox functions bound to the action's clock, and the
bridge from service tasks to :mod:`handlers`.

Built per action (never at import, never shared between instances), so a handler always
sees the instance, actor and time of the action that runs it.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterator, Mapping
from datetime import date, datetime
from functools import cache
from typing import Any

import sqlalchemy as sa
from flask import current_app

import handlers

from .. import access, audit
from ..extensions import db
from ..models.preferences import ClosedDay
from . import calendar, projection, sandbox
from .run import SandboxEnvironment, SandboxScriptEngine

logger = logging.getLogger(__name__)


def closed_days() -> ClosedDays:
    """Extra closure days on top of weekends, holidays and the year-end closure: those an
    administrator entered, plus any in configuration. Made once per action by its verb, which
    hands them to the script engine (timers) and to the inbox projection (due dates)."""
    configured = {date.fromisoformat(d) if isinstance(d, str) else d for d in current_app.config["EXTRA_CLOSED_DAYS"]}
    return ClosedDays(configured)


class ClosedDays(Collection[date]):
    """The closed days, read from the database on first use: an action that sets no deadline
    (a final approval, most timer steps) never needs them."""

    def __init__(self, configured: set[date]):
        self._configured = configured
        self._days: set[date] | None = None

    def _all(self) -> set[date]:
        if self._days is None:
            with db.session.no_autoflush:  # read mid-run: the action's pending rows are written once, at its end
                self._days = self._configured | set(db.session.scalars(_closed_days_query()))
        return self._days

    def __contains__(self, day: object) -> bool:
        return day in self._all()

    def __iter__(self) -> Iterator[date]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())


@cache
def _closed_days_query() -> sa.Select:
    """Built once: every request that sets a deadline reads the closed days (dates, from the
    table's column: nothing for the ORM to do)."""
    return sa.select(ClosedDay.__table__.c.day)


def diagram_functions(now: datetime, extra_closed: Collection[date] = ()) -> dict[str, Callable[..., Any]]:
    """Functions a diagram's expressions may call, beyond :data:`sandbox.SAFE_FUNCTIONS`."""

    def deadline(due: str) -> str:
        """``deadline("3bd")``: when something becoming ready now is due, as ISO-8601 UTC (timer timeDate)."""
        return calendar.due_at(due, now, extra_closed).isoformat()

    return {**sandbox.SAFE_FUNCTIONS, "deadline": deadline}


def script_engine(*, instance: Any, actor_id: int | None, now: datetime, closed: Collection[date],
                  decision: Any = None, notify: Callable[..., None], open_rows: list[Any]) -> SandboxScriptEngine:
    """``closed``: the action's :func:`closed_days`, for ``deadline(...)`` in timers; ``open_rows``:
    the instance's open inbox rows, read by the action before the workflow runs (handlers find theirs there)."""
    def call_service(name: str, params: dict[str, Any], data: Mapping[str, Any]) -> dict[str, Any]:
        handler = handlers.REGISTRY.get(name)
        if handler is None:  # deploy refuses this; an old version could still name a removed handler
            raise handlers.HandlerError(f"no handler is registered under the name {name!r}")

        def record(action: str, detail: dict[str, Any]) -> None:
            audit.record(action, actor_id=actor_id, instance_id=instance.id, contract_id=instance.contract_id,
                         detail=detail)

        ctx = handlers.Context(session=db.session, instance=instance, actor_id=actor_id, now=now,
                               data=dict(data), decision=decision, notify=notify, audit=record,
                               role_holders=lambda role: access.role_holders(role, instance.contract),
                               task_candidates=access.candidates,
                               open_task=lambda spec_id: projection.open_row(open_rows, spec_id))
        logger.debug("service %s for instance %s", name, instance.id)  # the action's own line names the instance
        return handler(ctx, **params)

    environment = SandboxEnvironment(
        diagram_functions(now, closed), call_service, current_app.config["SCRIPT_TIME_LIMIT_S"], now
    )
    return SandboxScriptEngine(environment=environment)
