"""Untrusted diagram bytes in: uploads, drafts and the editor's XML pass through here first.

Only :func:`webapp.engine.read_diagram` (the safe XML reader: no DOCTYPE, no entities, no
network, size limit; then the graph reader) touches the bytes; SpiffWorkflow sees them only
on validate and deploy, and nothing in them is ever evaluated here.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import current_app
from flask_babel import lazy_gettext as _l

from .. import engine
from ..engine import parse
from ..engine.errors import EngineError


class DesignRefused(EngineError):
    """An upload or draft the designer will not store (unsafe XML, wrong process, no file)."""

    http_status = 400
    code = "diagram_refused"


@dataclass
class Identity:
    key: str
    name: str


def identify(bpmn: bytes) -> Identity:
    """The process key and name of untrusted bytes.

    :raise DesignRefused: oversized, DOCTYPE/entities, malformed, not BPMN, no single
        executable process, or a process id unusable as a key
    """
    meta, problems = engine.read_diagram(bpmn)
    if not meta:
        raise DesignRefused(problems[0].message)
    if not parse.KEY.fullmatch(meta["key"]):
        raise DesignRefused(_l("The process id %(key)s cannot be used: use letters, digits and underscores, "
                               "starting with a letter (e.g. copying_consent).", key=repr(meta["key"][:80])))
    return Identity(meta["key"], meta["name"])


def require_process(bpmn: bytes, key: str) -> Identity:
    """:raise DesignRefused: as :func:`identify`, or the diagram is another process"""
    identity = identify(bpmn)
    if identity.key != key:
        raise DesignRefused(engine.wrong_process(identity.key, key).message)
    return identity


def read_upload(file: Any) -> bytes:
    """The bytes of an uploaded file, reading at most one byte past the limit (so the
    size message can say it is too big without the server holding more).

    :raise DesignRefused: no file chosen
    """
    if file is None or not file.filename:
        raise DesignRefused(_l("Choose a .bpmn file to upload."))
    return file.stream.read(current_app.config["BPMN_MAX_BYTES"] + 1)


def field(request: Any, name: str) -> Any:
    """A field of the page script's JSON body, or of a plain form (None when absent)."""
    payload = request.get_json(silent=True) if request.is_json else None
    return payload.get(name) if isinstance(payload, dict) else request.form.get(name)


def xml_from_request(request: Any) -> bytes:
    """The diagram the editor sent: JSON ``{"xml": …}`` (the page's script) or a form field.

    :raise DesignRefused: nothing sent
    """
    text = field(request, "xml")
    if not isinstance(text, str) or not text.strip():
        raise DesignRefused(_l("No diagram was sent."))
    return text.encode("utf-8")
