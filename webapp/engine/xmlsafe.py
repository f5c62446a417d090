"""Parse untrusted BPMN bytes before SpiffWorkflow sees them (DESIGN rule 6).

SpiffWorkflow parses with lxml's default parser, which resolves entities; whether that
leaks files depends on the lxml build (notes §1.3). We parse first with entities, DTD
loading and network access off, refuse any DOCTYPE outright, and hand SpiffWorkflow the
already-parsed tree.
"""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from lxml import etree


class UnsafeXml(ValueError):
    """The upload is not XML we are willing to read; ``line`` is where, when the parser knows."""

    def __init__(self, message: object, line: int | None = None):
        super().__init__(message)
        self.line = line


def _parser() -> etree.XMLParser:
    # A parser per call: lxml parsers are not thread-safe.
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
        huge_tree=False, remove_comments=False,
    )


def read_xml(data: bytes, max_bytes: int) -> etree._Element:
    """Parse ``data``; refuse oversized input, DOCTYPEs (and so entities), and malformed XML."""
    if not isinstance(data, bytes):
        raise UnsafeXml(_l("The diagram must be uploaded as a file."))
    if len(data) > max_bytes:
        raise UnsafeXml(_l("The diagram is %(size)s bytes; the limit is %(limit)s bytes.",
                           size=f"{len(data):,}", limit=f"{max_bytes:,}"))
    head = data[:4096].lower()
    if b"<!doctype" in head or b"<!entity" in data.lower():
        raise UnsafeXml(_l("The diagram contains a DOCTYPE or entity declaration; these are not allowed "
                           "in BPMN files (they can be used to read files from the server)."))
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as err:
        line = getattr(err, "lineno", None)
        raise UnsafeXml(_l("The diagram is not well-formed XML (line %(line)s): %(detail)s",
                           line=line or "?", detail=err.msg), line=line) from None
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise UnsafeXml(_l("The diagram contains a DOCTYPE; it is not allowed in BPMN files."))
    return root
