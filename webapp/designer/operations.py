"""The designer's verbs: read an upload, validate, deploy, roll back (issue 5).

Like every ``operations`` module they flush and audit but never commit: the view does.
Validation is :func:`webapp.engine.validate` (safe XML, SpiffWorkflow, sandbox, handlers,
forms, lanes, guardrails), exactly as ``shodaku lint`` runs it; deployment is
:func:`webapp.engine.deploy`, which stores a new immutable version, so running instances keep theirs.
"""
from __future__ import annotations

import inspect
import logging
from typing import Any

from flask import g
from flask_babel import gettext as _

import handlers

from .. import engine, guardrails, processes
from ..engine import parse
from ..models import ProcessDefinition, User
from ..roles import LANE_ROLES, ROLES
from . import drafts

logger = logging.getLogger(__name__)


def _forms() -> dict[str, Any]:
    """The form catalog, read from disk once per request (or CLI command)."""
    if "designer_forms" not in g:
        g.designer_forms = processes.load_forms()
    return g.designer_forms


def validate(bpmn: bytes, key: str) -> list[parse.Problem]:
    """Every problem of the diagram, guardrails included, as deploy and ``shodaku lint`` find
    them; a diagram of another process than ``key`` is the first."""
    return engine.validate(bpmn, _forms(), policy_check=guardrails.check, expected_key=key).problems


def deploy(bpmn: bytes, key: str, user: User, note: str) -> tuple[ProcessDefinition, bool]:
    """Deploy the editor's diagram as the next version of ``key``; the user's draft goes.

    :raise DiagramInvalid: every problem, as :func:`validate` lists them (nothing stored)
    """
    definition, created = engine.deploy(bpmn, _forms(), user=user, note=note, policy_check=guardrails.check,
                                        expected_key=key)
    drafts.discard(user, key)
    logger.info("designer: %s deployed %s v%s (created=%s)", user.username, key, definition.version, created)
    return definition, created


def rollback(old: ProcessDefinition, user: User, note: str) -> tuple[ProcessDefinition, bool]:
    """Deploy an older version again, as a new version, with the forms it was deployed with.

    :raise DiagramInvalid: the old version breaks a guardrail or rule added since
    """
    note = note or _("Rolled back to version %(v)s", v=old.version)
    definition, created = engine.deploy(old.bpmn, dict(old.forms or {}), user=user, note=note,
                                        policy_check=guardrails.check)
    logger.info("designer: %s rolled %s back to v%s as v%s", user.username, old.key, old.version, definition.version)
    return definition, created


# --- what the modeler offers ----------------------------------------------------------------

def catalog() -> dict[str, Any]:
    """Lanes (role keys), handler names and forms the properties panel may choose from, and the
    server's own patterns for what it checks in the browser (so the two cannot drift apart)."""
    return {
        "roles": [{"key": k, "label": str(r.label)} for k, r in ROLES.items() if k in LANE_ROLES],
        "handlers": [{"name": name, "doc": (inspect.getdoc(fn) or "").split("\n")[0]}
                     for name, fn in sorted(handlers.REGISTRY.items())],
        "forms": sorted(_forms()),
        "patterns": {"reference_prefix": parse.PREFIX.pattern},
    }
