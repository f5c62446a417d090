"""Hostile XML never reaches SpiffWorkflow (DESIGN rule 6, notes §1.3): no entities, no DTDs,
no network, no file reads, and nothing oversized parsed at all."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from lxml import etree

from tests.webapp.engine.diagrams import FORMS, diagram, line_of
from webapp.engine import versions, xmlsafe
from webapp.engine.xmlsafe import UnsafeXml, read_xml

LIMIT = 2 * 1024 * 1024
PASSWD = Path("/etc/passwd").read_text("utf-8").splitlines()[0]  # e.g. root:x:0:0:root:/root:/bin/bash
DOCUMENTATION = "<bpmn:userTask id=\"request\" name=\"申請の入力\">\n"


def with_doctype(doctype: str, reference: str) -> bytes:
    """The probe diagram with a DOCTYPE, and ``reference`` where the request task's documentation goes."""
    text = diagram((DOCUMENTATION, DOCUMENTATION + f"      <bpmn:documentation>{reference}</bpmn:documentation>\n"))
    declaration, rest = text.split(b"\n", 1)
    return declaration + b"\n" + doctype.encode() + b"\n" + rest


def billion_laughs() -> str:
    entities = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{n} "{("&lol" + str(n - 1) + ";") * 10}">' for n in range(1, 10)]
    return f"<!DOCTYPE bpmn:definitions [{''.join(entities)}]>"


def hostile(tmp_path: Path) -> dict[str, bytes]:
    dtd = tmp_path / "evil.dtd"
    dtd.write_text('<!ENTITY leak SYSTEM "file:///etc/passwd">', "utf-8")
    return {
        "internal entity": with_doctype('<!DOCTYPE bpmn:definitions [<!ENTITY i "injected">]>', "&i;"),
        "external entity": with_doctype(
            '<!DOCTYPE bpmn:definitions [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>', "&xxe;"),
        "parameter entity via external DTD": with_doctype(
            f'<!DOCTYPE bpmn:definitions [<!ENTITY % ext SYSTEM "file://{dtd}"> %ext;]>', "&leak;"),
        "external DTD": with_doctype(f'<!DOCTYPE bpmn:definitions SYSTEM "file://{dtd}">', "&leak;"),
        "billion laughs": with_doctype(billion_laughs(), "&lol9;"),
        "attribute entity": diagram(
            ('<?xml version="1.0" encoding="UTF-8"?>',
             '<?xml version="1.0" encoding="UTF-8"?>\n'
             '<!DOCTYPE bpmn:definitions [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'),
            ('name="申請の入力"', 'name="&xxe;"')),
    }


def test_every_entity_payload_is_refused_before_parsing(tmp_path):
    for label, payload in hostile(tmp_path).items():
        with pytest.raises(UnsafeXml) as refused:
            read_xml(payload, LIMIT)
        message = str(refused.value.args[0])
        assert "DOCTYPE" in message, label
        assert PASSWD not in message, label


def test_a_doctype_hidden_from_the_byte_scan_is_still_refused():
    # UTF-16 hides "<!DOCTYPE" from a byte search; the parsed document still reports it.
    payload = ('<?xml version="1.0" encoding="UTF-16"?>\n'
               '<!DOCTYPE d [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><d>&xxe;</d>').encode("utf-16")
    with pytest.raises(UnsafeXml, match="DOCTYPE"):
        read_xml(payload, LIMIT)


def test_an_undeclared_entity_is_malformed_not_resolved():
    with pytest.raises(UnsafeXml) as refused:
        read_xml(b'<d a="&xxe;">&xxe;</d>', LIMIT)
    assert "xxe" in str(refused.value.args[0]) and PASSWD not in str(refused.value.args[0])


def test_an_oversized_upload_is_refused_by_size_without_parsing(monkeypatch):
    def parse(*args, **kwargs):
        pytest.fail("an oversized upload reached the XML parser")

    monkeypatch.setattr(xmlsafe.etree, "fromstring", parse)
    monkeypatch.setattr(xmlsafe.etree, "XMLParser", parse)
    payload = b"<d>" + b" " * (50 * 1024 * 1024) + b"</d>"
    with pytest.raises(UnsafeXml) as refused:
        read_xml(payload, LIMIT)
    message = str(refused.value.args[0])
    assert f"{len(payload):,}" in message and f"{LIMIT:,}" in message


def test_malformed_xml_names_the_line():
    with pytest.raises(UnsafeXml) as refused:
        read_xml(b'<?xml version="1.0"?>\n<d>\n  <a>\n</d>\n', LIMIT)
    assert refused.value.line == 4
    assert "line 4" in str(refused.value.args[0]) or "4行目" in str(refused.value.args[0])


def test_text_instead_of_bytes_is_refused():
    with pytest.raises(UnsafeXml):
        read_xml("<d/>", LIMIT)  # type: ignore[arg-type]


def test_a_plain_diagram_parses_with_its_line_numbers():
    root = read_xml(diagram(), LIMIT)
    assert etree.QName(root.tag).localname == "definitions"
    (approve,) = root.xpath("//*[@id='approve']")
    assert approve.sourceline == line_of(diagram(), '<bpmn:userTask id="approve"')


# --- through the deploy validation -------------------------------------------------------

def test_validate_refuses_entity_payloads_and_never_shows_the_files_they_name(app, tmp_path):
    for label, payload in hostile(tmp_path).items():
        parsed = versions.validate(payload, FORMS)
        assert len(parsed.problems) == 1, label
        rendered = json.dumps([p.as_dict() for p in parsed.problems], ensure_ascii=False)
        assert "DOCTYPE" in rendered, label
        assert PASSWD not in rendered and PASSWD not in json.dumps(parsed.meta, ensure_ascii=False), label
        assert parsed.root is None, label


def test_validate_refuses_an_oversized_diagram(app):
    parsed = versions.validate(b"<d>" + b" " * (50 * 1024 * 1024) + b"</d>", FORMS)
    (problem,) = parsed.problems
    assert f"{app.config['BPMN_MAX_BYTES']:,}" in str(problem.message)


def test_validate_reports_malformed_xml_with_its_line(app):
    bpmn = diagram(('<bpmn:endEvent id="end_checked">', '<bpmn:endEvent id="end_checked" =>'))
    (problem,) = versions.validate(bpmn, FORMS).problems
    line = line_of(bpmn, 'id="end_checked" =>')
    assert f"line {line}" in str(problem.message) or f"{line}行目" in str(problem.message)
