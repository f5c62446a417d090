"""Service-task handlers: plain functions that diagrams call by registered name.

A diagram's ``spiffworkflow:serviceTaskOperator id="register_copy"`` calls
``REGISTRY["register_copy"](ctx, **params)`` where ``params`` are the diagram's parameter
expressions, already evaluated in the sandbox. Deploying a diagram that names an
unregistered handler fails (the engine checks against :data:`REGISTRY`). Handlers run
inside the action's transaction: they add rows through ``ctx.session`` and never commit.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

Handler = Callable[..., dict[str, Any]]
REGISTRY: dict[str, Handler] = {}


def handler(name: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        if name in REGISTRY:
            raise ValueError(f"handler {name!r} registered twice")
        REGISTRY[name] = fn
        return fn
    return register


class HandlerError(RuntimeError):
    """A handler refusing to proceed, with a message a person can act on."""


@dataclass
class Context:
    """What a handler may use: the instance it runs for and the action's facts."""

    session: Any
    instance: Any
    actor_id: int | None
    now: datetime
    data: Mapping[str, Any]
    decision: Any = None
    notify: Callable[..., None] = field(default=lambda *a, **k: None)
    audit: Callable[..., None] = field(default=lambda *a, **k: None)
    # Who holds ``role`` for this instance's contract (contract, department or global grant).
    role_holders: Callable[[str], list[Any]] = field(default=lambda role: [])
    # Everyone who may act on a task row (lane role holders plus added candidates).
    task_candidates: Callable[[Any], list[Any]] = field(default=lambda task: [])
    # The instance's open inbox row of a step (its BPMN id), or None: what reminders and escalations act on.
    open_task: Callable[[str], Any] = field(default=lambda spec_id: None)


def _discover() -> None:
    """Import every module of this package so their ``@handler`` registrations run."""
    import importlib
    import pkgutil

    for module in pkgutil.iter_modules(__path__):
        if not module.name.startswith("_"):
            importlib.import_module(f"{__name__}.{module.name}")


_discover()
