"""Attachment bytes on disk, addressed by sha256; their description in :class:`Attachment`.

Content addressing makes writing idempotent: a rolled-back upload leaves at most a file
that the next identical upload reuses, never a row pointing at nothing.
"""
from __future__ import annotations

import hashlib
import logging
import os
import re
import tempfile
import unicodedata
from pathlib import Path
from typing import IO, Any

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l

from . import clock
from .extensions import db
from .formschema import FormInvalid
from .ids import valid_id
from .models import Attachment, User

logger = logging.getLogger(__name__)

_SIGNATURES: list[tuple[bytes, str]] = [
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"PK\x03\x04", "application/zip"),
]
_ZIP_FAMILY = {
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".zip": "application/zip",
}


class UploadRefused(ValueError):
    http_status = 400


def clean_filename(name: str) -> str:
    """The last path component, without control characters, at most 200 characters."""
    name = unicodedata.normalize("NFC", name or "")
    name = re.split(r"[\\/]", name)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip().lstrip(".")
    return name[:200] or "file"


def sniff(head: bytes, filename: str) -> str | None:
    """The content type the bytes really are (the browser's claim is ignored)."""
    for signature, kind in _SIGNATURES:
        if head.startswith(signature):
            if kind == "application/zip":
                return _ZIP_FAMILY.get(Path(filename).suffix.lower(), "application/zip")
            return kind
    if b"\x00" in head:
        return None
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as err:
        if err.start < len(head) - 4:  # a multibyte character cut by the sniff window is fine
            try:
                head.decode("cp932")
            except UnicodeDecodeError:
                return None
    return "text/csv" if filename.lower().endswith(".csv") else "text/plain"


def path_for(sha256: str) -> Path:
    return Path(current_app.config["FILES_DIR"]) / sha256[:2] / sha256[2:4] / sha256


def store(stream: IO[bytes], filename: str, user: User, field: str = "") -> Attachment:
    """Check, hash and store an upload; the row is added to the session, not committed."""
    limit = current_app.config["UPLOAD_MAX_BYTES"]
    name = clean_filename(filename)
    files_dir = Path(current_app.config["FILES_DIR"])
    files_dir.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    head = b""
    with tempfile.NamedTemporaryFile(dir=files_dir, delete=False) as tmp:
        try:
            while chunk := stream.read(64 * 1024):
                size += len(chunk)
                if size > limit:
                    raise UploadRefused(_l("%(name)s is larger than the limit of %(mb)s MB.", name=name,
                                           mb=f"{limit / 1024 / 1024:g}"))
                if len(head) < 2048:
                    head += chunk[: 2048 - len(head)]
                digest.update(chunk)
                tmp.write(chunk)
        except BaseException:
            os.unlink(tmp.name)
            raise
    if size == 0:
        os.unlink(tmp.name)
        raise UploadRefused(_l("%(name)s is empty.", name=name))
    kind = sniff(head, name)
    if kind is None or kind not in current_app.config["UPLOAD_ALLOWED_TYPES"]:
        os.unlink(tmp.name)
        raise UploadRefused(_l("%(name)s is not an accepted kind of file (PDF, image, text, CSV, Word, Excel "
                               "or ZIP).", name=name))
    sha = digest.hexdigest()
    target = path_for(sha)
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        os.unlink(tmp.name)
    else:
        os.replace(tmp.name, target)
    attachment = Attachment(sha256=sha, filename=name, size=size, content_type=kind, field=field,
                            uploaded_by_id=user.id, uploaded_at=clock.now())
    db.session.add(attachment)
    logger.info("stored upload %s (%s bytes, %s) for user %s", sha[:12], size, kind, user.id)
    return attachment


def attachment_fields(schema: dict) -> list[str]:
    return [name for name, prop in schema.get("properties", {}).items() if prop.get("x-widget") == "attachments"]


def bind(schema: dict, data: dict, instance, user: User) -> None:
    """Attach the files a form names to ``instance``.

    A file may be named if it is the user's own pending upload, or already belongs to this
    instance (kept on resubmission). Anything else, such as another request's file id, is
    refused with a field message and nothing is changed.
    """
    for name in attachment_fields(schema):
        ids = data.get(name) or []
        if not ids:
            continue
        if any(valid_id(i) is None for i in ids):
            raise FormInvalid({name: [_l("One of the files is not available to you; upload it again.")]})
        rows = {a.id: a for a in db.session.scalars(sa.select(Attachment).where(Attachment.id.in_(ids)))}
        for attachment_id in ids:
            row = rows.get(attachment_id)
            ok = row is not None and (
                row.instance_id == instance.id or (row.instance_id is None and row.uploaded_by_id == user.id))
            if not ok:
                raise FormInvalid({name: [_l("One of the files is not available to you; upload it again.")]})
        for row in rows.values():
            row.instance_id = instance.id
            row.field = name


def pending_for(user: User, ids: list[int]) -> list[Attachment]:
    """The user's own unattached uploads among ``ids`` (kept across a failed form)."""
    if not ids:
        return []
    return list(db.session.scalars(sa.select(Attachment).where(
        Attachment.id.in_(ids), Attachment.uploaded_by_id == user.id, Attachment.instance_id.is_(None))))


def stage(schema: dict, form, files, user: User) -> tuple[dict[str, list[int]], list[Any]]:
    """Store the files posted for the schema's attachment fields as the user's pending uploads.

    Returns, per field, the ids to submit (files kept from an earlier attempt plus new ones),
    and the refusals as messages. Refused files are not stored. The caller commits, so an
    upload survives a form that fails validation and is offered again.
    """
    staged: dict[str, list[int]] = {}
    refusals: list[Any] = []
    for name in attachment_fields(schema):
        # Ids kept from an earlier attempt; :func:`bind` checks they are the user's to name.
        ids = [i for v in form.getlist(name) if (i := valid_id(v)) is not None][:50]
        for upload in files.getlist(name):
            if not upload or not upload.filename:
                continue
            try:
                attachment = store(upload.stream, upload.filename, user, name)
            except UploadRefused as err:
                refusals.append(err.args[0])
                continue
            db.session.flush()
            ids.append(attachment.id)
        staged[name] = ids
    return staged, refusals
