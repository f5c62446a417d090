"""Posting a JSON Schema form from the browser: uploads first, then the engine action."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from flask import request
from flask_login import current_user

from . import formschema, storage
from .extensions import db
from .models import Attachment


@dataclass
class FormState:
    """What a form page needs to (re)display: values typed, messages, files kept."""

    values: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, list[Any]] = field(default_factory=dict)
    files: dict[str, list[Attachment]] = field(default_factory=dict)


def submit(schema: dict[str, Any] | None, action: Callable[[Any], Any], *,
           instance_id: int | None = None) -> tuple[Any, FormState | None]:
    """Stage uploads (committed, so they survive a refusal), then run ``action(data)``.

    Call it only once the person is known to be allowed to submit (uploads are stored
    first). Returns ``(result, None)`` on success, or ``(None, state)`` to re-render with the
    messages, the values typed and the files already uploaded. The caller commits on success.
    Without a new upload nothing is committed here: a commit expires every row the view
    loaded, and the action would read them all again.
    """
    schema = schema or {}
    staged, refusals = storage.stage(schema, request.form, request.files, current_user)
    if _files_posted(schema) > len(refusals):  # every posted file is either stored or refused
        db.session.commit()
    data = request.form.copy()
    for name, ids in staged.items():
        data.setlist(name, ids)
    try:
        if refusals:
            raise formschema.FormInvalid({"": refusals})
        return action(data), None
    except formschema.FormInvalid as err:
        db.session.rollback()
        state = FormState(values=formschema.coerce(schema, data, from_html=True), errors=err.errors)
        state.files = {name: _attachments(ids, instance_id) for name, ids in staged.items()}
        return None, state


def _files_posted(schema: dict[str, Any]) -> int:
    return sum(1 for name in storage.attachment_fields(schema) for upload in request.files.getlist(name)
               if upload and upload.filename)


def state_for(schema: dict[str, Any] | None, values: dict[str, Any], instance_id: int | None = None) -> FormState:
    files = {name: _attachments(values.get(name) or [], instance_id)
             for name in storage.attachment_fields(schema or {})}
    return FormState(values=dict(values), files=files)


def _attachments(ids: list[int], instance_id: int | None) -> list[Attachment]:
    """Files a form may show again: the person's own pending uploads, or this request's own.

    Any other id posted (another request's file) is dropped, name and all.
    """
    if not ids:
        return []
    rows = db.session.scalars(sa.select(Attachment).where(Attachment.id.in_(ids))).all()
    return [a for a in rows if (a.instance_id is None and a.uploaded_by_id == current_user.id)
            or (instance_id is not None and a.instance_id == instance_id)]
