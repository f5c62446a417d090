"""Validate a diagram and store it as a new immutable version (DESIGN rule 5)."""
from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from functools import cache
from typing import Any

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.exceptions import SpiffWorkflowException

import handlers

from .. import audit, clock
from ..extensions import db
from ..models import ProcessDefinition, ProcessInstance, User
from ..roles import LANE_ROLES
from . import parse, store
from .errors import DiagramInvalid, VersionConflict
from .scripting import diagram_functions
from .xmlsafe import UnsafeXml, read_xml

logger = logging.getLogger(__name__)
_KEPT = "shodaku.versions"  # app.extensions: the versions this process keeps (attach_to)


def validate(bpmn: bytes, forms: Mapping[str, Any], *, policy_check: Any = None,
             expected_key: str | None = None) -> parse.Parsed:
    """Parse and check a diagram; never raises for a diagram's faults, lists them instead.

    ``policy_check(meta) -> list[Problem]`` adds the guardrails of the process, when given; they
    run whenever the graph could be read, so every caller (deploy, lint, the designer) lists the
    same problems and the owner fixes everything in one go.
    ``expected_key``: the process being edited; a diagram of another process is a problem, listed first.
    """
    return _checked(bpmn, forms, policy_check, expected_key)[0]


def wrong_process(found: str, key: str) -> parse.Problem:
    """The diagram's process id is not the process the designer is editing."""
    return parse.Problem(found, _l("This editor is for the process %(key)s, but the diagram's process id is %(other)s. "
                                   "Change the id back, or upload the file as a new process.",
                                   key=repr(key), other=repr(found)))


def read_diagram(bpmn: bytes) -> tuple[dict[str, Any], list[parse.Problem]]:
    """The graph of untrusted bytes (``parse.describe``: key, name, nodes, flows…) and the problems
    met reading it, without handing anything to SpiffWorkflow; ``meta`` is empty when the bytes
    are unsafe, unreadable or not one executable BPMN process."""
    _root, meta, problems = _read(bpmn)
    return meta, problems


def _read(bpmn: bytes) -> tuple[Any, dict[str, Any], list[parse.Problem]]:
    """The safe XML tree (None if refused), its graph and the problems met reading them."""
    try:
        root = read_xml(bpmn, current_app.config["BPMN_MAX_BYTES"])
    except UnsafeXml as err:
        return None, {}, [parse.Problem("", err.args[0], line=getattr(err, "line", None))]
    meta, problems = parse.describe(root)
    return root, meta, problems


def _checked(bpmn: bytes, forms: Mapping[str, Any], policy_check: Any,
             expected_key: str | None) -> tuple[parse.Parsed, Any]:
    """:func:`validate`, plus the specs SpiffWorkflow built on the way (None if it refused them),
    so that deploy caches those rather than parsing the diagram again."""
    root, meta, problems = _read(bpmn)
    if not meta:
        return parse.Parsed("", "", {}, root, problems), None
    parsed = parse.Parsed(meta["key"], meta["name"], meta, root, problems)
    if expected_key is not None and parsed.key != expected_key:
        parsed.problems.insert(0, wrong_process(parsed.key, expected_key))
    specs = None
    try:
        specs = parse.build_specs(root, meta["key"])
    except ValidationException as err:
        parsed.problems.append(parse.spiff_problem(err))
    except SpiffWorkflowException as err:
        parsed.problems.append(parse.Problem(meta["key"], _l("Rejected by the BPMN engine: %(detail)s",
                                                             detail=str(err).split("\n")[0])))
    parsed.problems.extend(parse.check(meta, roles=LANE_ROLES, handlers=handlers.REGISTRY, forms=forms,
                                       functions=diagram_functions(clock.now())))
    if policy_check is not None:
        parsed.problems.extend(policy_check(meta))
    return parsed, specs


def forms_used(meta: Mapping[str, Any], forms: Mapping[str, Any]) -> dict[str, Any]:
    """The forms the diagram names, snapshotted into the version."""
    return {t["form"]: forms[t["form"]] for t in meta["tasks"].values() if t["form"] and t["form"] in forms}


def deploy(bpmn: bytes, forms: Mapping[str, Any], *, user: User | None, note: str = "",
           policy_check: Any = None, expected_key: str | None = None) -> tuple[ProcessDefinition, bool]:
    """Store a new version unless the newest one is byte-identical (with its forms).

    Returns ``(definition, created)``. Raises :class:`DiagramInvalid` listing every problem
    (``policy_check`` and ``expected_key`` as for :func:`validate`).
    """
    parsed, specs = _checked(bpmn, forms, policy_check, expected_key)
    if parsed.problems:
        raise DiagramInvalid(parsed.problems)
    sha = hashlib.sha256(bpmn).hexdigest()
    snapshot = forms_used(parsed.meta, forms)
    latest = latest_version(parsed.key)
    if latest is not None and latest.sha256 == sha and latest.forms == snapshot:
        return latest, False
    version = (latest.version + 1) if latest else 1
    definition = ProcessDefinition(
        key=parsed.key, version=version, name=parsed.name, bpmn=bpmn, sha256=sha, forms=snapshot,
        meta=_stored_meta(parsed.meta), note=note, deployed_by_id=user.id if user else None,
        deployed_at=clock.now(),
    )
    db.session.add(definition)
    try:
        db.session.flush()
    except sa.exc.IntegrityError as err:  # the same (key, version) just taken by a concurrent deploy
        raise VersionConflict() from err
    store.remember(sha, specs)
    # A copy kept under this id can only be of a version whose deploy rolled back (SQLite hands
    # its id out again): never of this one.
    current_app.extensions.get(_KEPT, {}).pop(definition.id, None)
    audit.record("process_deployed", actor_id=user.id if user else None,
                 detail={"key": parsed.key, "version": version, "sha256": sha, "note": note})
    logger.info("deployed %s v%s (%s) by %s", parsed.key, version, sha[:12], user.id if user else "system")
    return definition, True


def _stored_meta(meta: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in meta.items() if k not in ("scripts", "timers")}


def latest_version(key: str) -> ProcessDefinition | None:
    return db.session.scalar(_latest_query(), {"key": key})


@cache
def _latest_query() -> sa.Select:
    """Built once: every request form asks for it, and starting asks again."""
    return (sa.select(ProcessDefinition).where(ProcessDefinition.key == sa.bindparam("key"))
            .order_by(ProcessDefinition.version.desc()).limit(1))


def latest_versions(*options: Any) -> list[ProcessDefinition]:
    """The newest version of every flow, by key; ``options`` are loader options (a list page
    defers the diagram and its meta)."""
    newest = sa.select(ProcessDefinition.key, sa.func.max(ProcessDefinition.version).label("v")) \
        .group_by(ProcessDefinition.key).subquery()
    return list(db.session.scalars(
        sa.select(ProcessDefinition).options(*options).join(
            newest, sa.and_(ProcessDefinition.key == newest.c.key, ProcessDefinition.version == newest.c.v))
        .order_by(ProcessDefinition.key)
    ))


def attach_to(instance: ProcessInstance) -> None:
    """Give ``instance`` its version without reading the version's row, if this process has read
    it before.

    Versions never change once deployed (DESIGN rule 5), and reading one costs more than the
    rest of a task with its request, contract and requester together: its row carries the
    diagram's meta and forms, 15-40 KB of JSON to decode (110 of 280 µs for a task). Each session
    gets an object of its own (``merge(load=False)``, 11 µs); the meta and forms dicts in it are
    the kept ones, shared by every request of this process, so they are read and never written
    (``formschema.resolve`` copies what it changes). Kept per app: each app has its own database.
    A version whose deploy rolled back after a task of it was loaded in the same transaction (a
    test or a script; the web app deploys in a request of its own) leaves its copy behind, which
    :func:`deploy` drops when it gives the id to a new version in this process.
    """
    if "definition" in sa.inspect(instance).dict:
        return
    known: dict[int, ProcessDefinition] = current_app.extensions.setdefault(_KEPT, {})
    kept = known.get(instance.definition_id)
    if kept is not None:
        set_committed_value(instance, "definition", db.session.merge(kept, load=False))
        return
    copy = _detached_copy(instance.definition)
    if copy is not None:
        known[instance.definition_id] = copy


def _detached_copy(definition: ProcessDefinition) -> ProcessDefinition | None:
    """The columns of ``definition`` but its diagram's bytes (deferred: whoever needs them reads
    them) in a new object of no session; None if its meta or forms were not loaded (a listing
    that defers them), which a kept copy would then read in every session."""
    state = sa.inspect(definition)
    if "meta" not in state.dict or "forms" not in state.dict:
        return None
    loaded = {attr.key: state.dict[attr.key] for attr in state.mapper.column_attrs
              if attr.key in state.dict and attr.key != "bpmn"}
    copy = ProcessDefinition(**loaded)
    make_transient_to_detached(copy)
    return copy
