"""Guardrails: each policy rule refuses a diagram that breaks it; every shipped diagram passes.

Broken variants are made by editing copying_consent.bpmn's XML, then checked the ways a
process owner meets them: ``shodaku lint`` (exit status 1, one line per problem with file,
element id and message), ``shodaku deploy`` (nothing stored) and :func:`guardrails.check`.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from lxml import etree

from webapp import guardrails
from webapp.engine import parse
from webapp.engine.xmlsafe import read_xml
from webapp.extensions import db
from webapp.models import ProcessDefinition

PROCESSES = Path(__file__).resolve().parents[2] / "processes"
COPYING = PROCESSES / "copying_consent.bpmn"
NS = {"bpmn": parse.BPMN_NS, "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
      "spiffworkflow": parse.SPIFF_NS}


# --- editing the reference diagram ----------------------------------------------------------

def _tree(xml: bytes = b"") -> etree._Element:
    return etree.fromstring(xml or COPYING.read_bytes())


def _bytes(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _by_id(root: etree._Element, element_id: str) -> etree._Element:
    return root.xpath("//*[@id=$id]", id=element_id)[0]


def without(*ids: str, xml: bytes = b"") -> bytes:
    """The diagram minus elements, their flows, lane references and drawing."""
    root = _tree(xml)
    gone = set(ids)
    for flow in root.xpath("//bpmn:sequenceFlow", namespaces=NS):
        if flow.get("sourceRef") in gone or flow.get("targetRef") in gone:
            gone.add(flow.get("id"))
    for element_id in gone:
        for element in root.xpath("//*[@id=$id] | //bpmndi:*[@bpmnElement=$id]", id=element_id, namespaces=NS):
            element.getparent().remove(element)
        for ref in root.xpath("//bpmn:flowNodeRef[text()=$id] | //bpmn:incoming[text()=$id] | "
                              "//bpmn:outgoing[text()=$id]", id=element_id, namespaces=NS):
            ref.getparent().remove(ref)
    return _bytes(root)


def _add_incoming(node: etree._Element, flow_id: str) -> None:
    """Reference an incoming flow; the schema wants incoming before outgoing, so before the first outgoing."""
    incoming = etree.Element(f"{{{parse.BPMN_NS}}}incoming")
    incoming.text = flow_id
    first_out = node.find(f"{{{parse.BPMN_NS}}}outgoing")
    if first_out is not None:
        first_out.addprevious(incoming)
    else:
        node.append(incoming)


def with_flow(source: str, target: str, flow_id: str = "flow_bypass", xml: bytes = b"") -> bytes:
    """The diagram plus a sequence flow (with its incoming/outgoing references)."""
    root = _tree(xml)
    process = root.xpath("//bpmn:process", namespaces=NS)[0]
    flow = etree.SubElement(process, f"{{{parse.BPMN_NS}}}sequenceFlow", id=flow_id, sourceRef=source, targetRef=target)
    flow.tail = "\n"
    etree.SubElement(_by_id(root, source), f"{{{parse.BPMN_NS}}}outgoing").text = flow_id
    _add_incoming(_by_id(root, target), flow_id)
    return _bytes(root)


def retarget(flow_id: str, target: str, xml: bytes = b"") -> bytes:
    """The diagram with one sequence flow pointing elsewhere (SpiffWorkflow allows one outgoing flow per task)."""
    root = _tree(xml)
    flow = _by_id(root, flow_id)
    old = _by_id(root, flow.get("targetRef"))
    for ref in old.xpath("./bpmn:incoming[text()=$id]", id=flow_id, namespaces=NS):
        old.remove(ref)
    flow.set("targetRef", target)
    _add_incoming(_by_id(root, target), flow_id)
    return _bytes(root)


def with_property(task: str, name: str, value: str | None, xml: bytes = b"") -> bytes:
    """Set (or with ``None`` remove) a ``spiffworkflow:property`` of a task."""
    root = _tree(xml)
    props = _by_id(root, task).xpath("./bpmn:extensionElements/spiffworkflow:properties", namespaces=NS)[0]
    for prop in props.xpath("./spiffworkflow:property[@name=$n]", n=name, namespaces=NS):
        props.remove(prop)
    if value is not None:
        etree.SubElement(props, f"{{{parse.SPIFF_NS}}}property", name=name, value=value)
    return _bytes(root)


def problems_of(xml: bytes) -> list[parse.Problem]:
    meta, problems = parse.describe(read_xml(xml, 10_000_000))
    assert problems == []
    return guardrails.check(meta)


def lint(runner, tmp_path, xml: bytes, name: str = "variant.bpmn"):
    path = tmp_path / name
    path.write_bytes(xml)
    return path, runner.invoke(args=["lint", str(path)])


# --- every shipped diagram and policy ----------------------------------------------------------

@pytest.mark.parametrize("path", sorted(PROCESSES.glob("*.bpmn")), ids=lambda p: p.stem)
def test_every_shipped_diagram_passes_lint(runner, path):
    result = runner.invoke(args=["lint", str(path)])
    assert result.exit_code == 0, result.output
    assert "1 file(s) OK" in result.output


def test_every_policy_file_is_valid_and_names_its_process():
    files = sorted((PROCESSES / "policies").glob("*.json"))
    assert {p.stem for p in files} >= {"_all", "copying_consent"}
    for path in files:
        rules = guardrails.load_policy(path)
        assert rules, path.name
        assert all(rule["article"] for rule in rules)


def test_every_shipped_flow_has_a_policy():
    missing = [p.stem for p in PROCESSES.glob("*.bpmn") if not (PROCESSES / "policies" / f"{p.stem}.json").is_file()]
    assert missing == [], f"write processes/policies/<key>.json for {missing} (see processes/policies/README.md)"


# --- passes_through: no register without a city approval ----------------------------------------

def test_a_flow_bypassing_the_approval_to_the_register_is_refused_by_lint(app, runner, tmp_path):
    # The request leads straight to "is it a copy?"; the approval is left without incoming flow.
    path, result = lint(runner, tmp_path, retarget("flow_request_approve", "gw_kind"))
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line]
    assert len(lines) == 1
    assert lines[0].startswith(f"{path}: enter_copy_register (line ")
    assert "第3条第2号: 市の書面による承諾を経ずに複製物台帳への登録に至る経路があります" in lines[0]
    # the offending path is shown, by step names
    assert "承諾申請の入力 → 複写・複製か → 複製物台帳への登録" in lines[0]


def test_the_approvals_timer_branch_does_not_count_as_passing_the_approval(app):
    # Overdue reminder leading on to the register: the approval was entered, never completed.
    xml = retarget("flow_remind_end", "enter_copy_register")
    [problem] = problems_of(xml)
    assert problem.element_id == "enter_copy_register"
    assert "期限（3営業日）" in str(problem.message)


def test_removing_the_approval_is_refused(app):
    xml = with_flow("request", "gw_decision", xml=without("approve", "approve_overdue", "approve_escalation",
                                                          "remind_approver", "escalate_supervisor",
                                                          "end_reminded", "end_escalated"))
    messages = [str(p.message) for p in problems_of(xml)]
    assert any(m.startswith("第3条第2号:") for m in messages)
    assert any(m.startswith("第3条:") and "not_requester" in m for m in messages)  # no city decision is left


def test_removing_the_register_step_is_refused(app):
    xml = with_flow("gw_kind", "gw_join", "flow_is_copy_direct",
                    xml=without("enter_copy_register"))
    [problem] = problems_of(xml)
    assert problem.element_id == "copying_consent"
    assert problem.message.startswith("第3条第2号:")


def test_the_send_back_loop_and_gateways_are_not_mistaken_for_bypasses(app):
    # An extra loop from the decision gateway back to the request and a second one after the register.
    xml = with_flow("gw_join", "request", "flow_loop_again", xml=with_flow("gw_decision", "request", "flow_loop"))
    assert problems_of(xml) == []


# --- deadline: every city decision has due and a non-interrupting escalation -------------------

def test_a_city_decision_without_due_is_refused_by_lint(app, runner, tmp_path):
    path, result = lint(runner, tmp_path, with_property("approve", "due", None))
    assert result.exit_code == 1
    [line] = [line for line in result.output.splitlines() if line]
    assert line.startswith(f"{path}: approve (line ")
    assert "第3条（承諾審査の期限管理）:" in line and "due" in line


def test_a_city_decision_without_escalation_boundary_is_refused(app, runner, tmp_path):
    xml = without("approve_overdue", "approve_escalation", "remind_approver", "escalate_supervisor",
                  "end_reminded", "end_escalated")
    path, result = lint(runner, tmp_path, xml)
    assert result.exit_code == 1
    [line] = [line for line in result.output.splitlines() if line]
    assert line.startswith(f"{path}: approve (line ")
    assert "remind / escalate" in line


def test_an_interrupting_timer_is_not_an_escalation(app):
    root = _tree()
    for boundary_id in ("approve_overdue", "approve_escalation"):
        _by_id(root, boundary_id).set("cancelActivity", "true")
    [problem] = problems_of(_bytes(root))
    assert problem.element_id == "approve" and "remind / escalate" in str(problem.message)


def test_a_reminder_for_another_task_does_not_count(app):
    root = _tree()
    for param in root.xpath("//spiffworkflow:parameter[@id='task']", namespaces=NS):
        param.set("value", '"request"')
    [problem] = problems_of(_bytes(root))
    assert problem.element_id == "approve"


def test_one_problem_per_fault_when_the_global_and_the_flow_policy_agree(app):
    # Both _all.json and copying_consent.json demand the deadline: the flow's article is quoted, once.
    problems = problems_of(with_property("approve", "due", None))
    assert [str(p.message).split(":")[0] for p in problems] == ["第3条（承諾審査の期限管理）"]


def test_a_new_flow_without_its_own_policy_still_gets_the_global_rules(app):
    xml = with_property("approve", "due", None).replace(b'"copying_consent"', b'"brand_new_flow"')
    meta, _ = parse.describe(read_xml(xml, 10_000_000))
    assert meta["key"] == "brand_new_flow"
    [problem] = guardrails.check(meta)
    assert problem.element_id == "approve" and str(problem.message).startswith("共通方針（市の判断の期限管理）:")


def test_lint_and_the_designers_validate_list_the_same_problems(app, runner, client, tmp_path):
    # A structural fault (a form that does not exist) and a guardrail violation (no deadline) at once.
    xml = with_property("approve", "form", "common/missing.json", xml=with_property("approve", "due", None))
    path, result = lint(runner, tmp_path, xml)
    assert result.exit_code == 1
    linted = [line.removeprefix(f"{path}: ") for line in result.output.splitlines() if line]
    assert any("common/missing.json" in line for line in linted)
    assert any("第3条（承諾審査の期限管理）:" in line for line in linted)
    client.login("nakamura")
    response = client.post("/designer/copying_consent/validate", json={"xml": xml.decode()},
                           headers={"X-CSRFToken": client.csrf_token("/inbox/")})
    validated = [str(parse.Problem(p["element_id"], p["message"], line=p["line"]))
                 for p in response.get_json()["problems"]]
    assert validated == linted


# --- property: four eyes on the approval ---------------------------------------------------------

def test_an_approval_the_requester_could_give_is_refused(app):
    [problem] = problems_of(with_property("approve", "not_requester", None))
    assert problem.element_id == "approve"
    assert str(problem.message).startswith("第3条: 申請者本人が承諾できないよう")


# --- blocking deployment and the policy files themselves ----------------------------------------

def test_shodaku_deploy_refuses_a_violation_and_stores_nothing(app, runner, tmp_path):
    before = db.session.scalar(sa.select(sa.func.count()).select_from(ProcessDefinition))
    path = tmp_path / "bypass.bpmn"
    path.write_bytes(retarget("flow_request_approve", "gw_kind"))
    result = runner.invoke(args=["deploy", str(path)])
    assert result.exit_code == 1
    assert "enter_copy_register" in result.output and "第3条第2号" in result.output
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ProcessDefinition)) == before


def test_an_unreadable_policy_blocks_deployment(app, tmp_path):
    (tmp_path / "copying_consent.json").write_text(json.dumps({"process": "copying_consent", "rules": [
        {"rule": "passes_thru", "article": "x"}]}), encoding="utf-8")
    meta, _ = parse.describe(read_xml(COPYING.read_bytes(), 10_000_000))
    [problem] = guardrails.check(meta, base=tmp_path)
    assert problem.element_id == "copying_consent" and "copying_consent.json rule 1" in str(problem.message)


@pytest.mark.parametrize("rule, fault", [
    ({"rule": "passes_through", "target": "x", "via": [], "article": "a"}, "'via'"),
    ({"rule": "passes_through", "target": {"colour": "red"}, "via": ["y"], "article": "a"}, "selector"),
    ({"rule": "property", "task": "x", "name": "due"}, "missing ['article']"),
    ({"rule": "deadline", "tasks": {"side": "city"}, "escalation": "remind", "article": "a"}, "'escalation'"),
])
def test_policy_shape_errors_name_the_rule(tmp_path, rule, fault):
    path = tmp_path / "flow.json"
    path.write_text(json.dumps({"process": "flow", "rules": [rule]}), encoding="utf-8")
    with pytest.raises(guardrails.PolicyError) as err:
        guardrails.load_policy(path)
    assert "flow.json rule 1" in str(err.value) and fault in str(err.value)


# --- the path check on small graphs ------------------------------------------------------------------

def _graph(flows: list[tuple[str, str]], types: dict[str, str] | None = None,
           boundaries: dict[str, list[str]] | None = None) -> guardrails.Graph:
    names = {n for f in flows for n in f} | {b for bs in (boundaries or {}).values() for b in bs}
    types = {"s": "startEvent", **(types or {})}
    nodes = {n: {"type": types.get(n, "boundaryEvent" if any(n in bs for bs in (boundaries or {}).values())
                                  else "task"), "name": n, "lane": ""} for n in names}
    return guardrails.Graph.of({
        "key": "p", "nodes": nodes, "tasks": {}, "services": {},
        "flows": [{"id": f"{a}-{b}", "source": a, "target": b} for a, b in flows],
        "boundaries": {t: [{"id": b, "cancel": False, "timer": "x"} for b in bs] for t, bs in (boundaries or {}).items()}})


def test_bypass_handles_loops_and_gateways():
    loop = _graph([("s", "r"), ("r", "a"), ("a", "g"), ("g", "r"), ("g", "x"), ("x", "e")])
    assert guardrails.bypass(loop, ["x"], {"a"}) is None
    skipping = _graph([("s", "r"), ("r", "g0"), ("g0", "a"), ("g0", "x"), ("a", "x")])
    assert guardrails.bypass(skipping, ["x"], {"a"}) == ["s", "r", "g0", "x"]
    timer = _graph([("s", "a"), ("a", "x"), ("t", "x")], boundaries={"a": ["t"]})
    assert guardrails.bypass(timer, ["x"], {"a"}) == ["s", "a", "t", "x"]
    link = _graph([("s", "a"), ("a", "x"), ("c", "x")], types={"c": "intermediateCatchEvent"})
    assert guardrails.bypass(link, ["x"], {"a"}) == ["c", "x"]  # a link event's target starts a path
    orphan = _graph([("s", "a"), ("a", "x"), ("o", "x")])
    assert guardrails.bypass(orphan, ["x"], {"a"}) is None  # an orphaned task never runs


# --- the other shipped flows' policies refuse their typical shortcuts -----------------------------

SHORTCUTS = [
    # (flow, extra flow source -> target, element reported, article quoted)
    ("production_migration", "notify_approved", "migrate", "migrate", "第15条第3項:"),      # skips the backup
    ("production_migration", "request", "backup", "migrate", "第15条第3項・第13条:"),       # skips the approval
    ("subcontracting", "gw_city", "enter_subcontractor_register", "enter_subcontractor_register", "第10条第1項:"),
    ("device_connection", "notify_permitted", "enter_device_register", "enter_device_register", "第12条第2項:"),
    ("incident_response", "report", "close_register", "close_register", "第9条:"),
]


@pytest.mark.parametrize("flow, source, target, reported, article", SHORTCUTS, ids=lambda v: str(v))
def test_each_flow_policy_refuses_its_shortcut(app, flow, source, target, reported, article):
    problems = problems_of(with_flow(source, target, xml=(PROCESSES / f"{flow}.bpmn").read_bytes()))
    assert any(p.element_id == reported and str(p.message).startswith(article) for p in problems), \
        [str(p) for p in problems]


def test_migration_must_be_separated_from_the_request(app):
    xml = (PROCESSES / "production_migration.bpmn").read_bytes()
    [problem] = problems_of(with_property("migrate", "separate_from", None, xml=xml))
    assert problem.element_id == "migrate" and str(problem.message).startswith("第15条第2項:")
