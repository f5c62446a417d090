"""Deploy-time validation (``engine.validate``) finds every fault of a diagram, located by
element id and line, before anything runs; ``engine.deploy`` stores immutable versions."""
from __future__ import annotations

import hashlib

import pytest
from flask_babel import force_locale
import sqlalchemy as sa

from tests.webapp.engine.diagrams import FORMS, KEY, diagram, line_of
from webapp import engine
from webapp.engine import versions
from webapp.extensions import db
from webapp.models import ProcessDefinition

SCRIPT_CHECK = ('<bpmn:userTask id="check" name="確認">', '<bpmn:scriptTask id="check" name="確認">')


def problems(bpmn: bytes, forms=FORMS) -> list[tuple[str, int | None, str]]:
    """Problems as (element, line, message in English: the wording these tests check)."""
    with force_locale("en"):
        return [(p.element_id, p.line, str(p.message)) for p in versions.validate(bpmn, forms).problems]


def only_problem(bpmn: bytes, forms=FORMS) -> tuple[str, int | None, str]:
    found = problems(bpmn, forms)
    assert len(found) == 1, found
    return found[0]


def test_the_probe_diagram_is_valid(app):
    parsed = versions.validate(diagram(), FORMS)
    assert parsed.problems == []
    assert parsed.key == KEY and parsed.meta["start_task"] == "request"
    assert parsed.meta["tasks"]["approve"]["due"] == "3bd"


def test_not_bpmn_is_refused(app):
    element, line, message = only_problem(b'<?xml version="1.0"?>\n<html><body/></html>')
    assert (element, line) == ("", 2)
    assert "bpmn:definitions" in message


def test_a_diagram_needs_exactly_one_executable_process(app):
    none = diagram(('isExecutable="true"', 'isExecutable="false"'))
    assert only_problem(none)[:2] == (KEY, line_of(none, 'isExecutable="false"'))
    assert "0" in only_problem(none)[2]
    two = diagram(("  </bpmn:process>\n", '  </bpmn:process>\n  <bpmn:process id="second" isExecutable="true">'
                                         '<bpmn:startEvent id="s2" /></bpmn:process>\n'))
    element, line, message = only_problem(two)
    assert (element, line) == ("second", line_of(two, 'id="second"'))
    assert "2" in message


def test_a_lane_must_be_a_role(app):
    bpmn = diagram(('name="city_approver"', 'name="city_mayor"'))
    element, line, message = only_problem(bpmn)
    assert (element, line) == ("Lane_city", line_of(bpmn, 'name="city_mayor"'))
    assert "'city_mayor'" in message and "city_approver" in message


def test_a_form_must_exist_and_be_a_json_schema(app):
    missing = diagram(('value="probe/request.json"', 'value="probe/nope.json"'))
    element, line, message = only_problem(missing)
    assert (element, line) == ("request", line_of(missing, '<bpmn:userTask id="request"'))
    assert "probe/nope.json" in message
    broken = {**FORMS, "probe/request.json": {"type": "object", "properties": {"purpose": {"type": "strang"}}}}
    element, line, message = only_problem(diagram(), broken)
    assert (element, line) == ("request", line_of(diagram(), '<bpmn:userTask id="request"'))
    assert "probe/request.json" in message and "strang" in message


def test_a_bad_due_is_refused(app):
    for bad in ("3x", "0bd", "bd", "-1h"):
        bpmn = diagram(('value="3bd"', f'value="{bad}"'))
        element, line, message = only_problem(bpmn)
        assert (element, line) == ("approve", line_of(bpmn, '<bpmn:userTask id="approve"'))
        assert repr(bad) in message


def test_separate_from_must_name_a_user_task(app):
    bpmn = diagram(('<spiffworkflow:property name="due" value="3bd" />',
                    '<spiffworkflow:property name="due" value="3bd" />\n'
                    '          <spiffworkflow:property name="separate_from" value="ghost" />'))
    element, line, message = only_problem(bpmn)
    assert (element, line) == ("approve", line_of(bpmn, '<bpmn:userTask id="approve"'))
    assert "'ghost'" in message


def test_an_unknown_handler_fails_the_deploy_not_the_run(app):
    bpmn = diagram(('serviceTaskOperator id="remind"', 'serviceTaskOperator id="launch_missiles"'))
    element, line, message = only_problem(bpmn)
    assert (element, line) == ("remind_approver", line_of(bpmn, '<bpmn:serviceTask id="remind_approver"'))
    assert "'launch_missiles'" in message and "remind" in message
    with pytest.raises(engine.DiagramInvalid):
        engine.deploy(bpmn, FORMS, user=None)
    assert db.session.scalar(sa.select(sa.func.count()).where(ProcessDefinition.key == KEY)) == 0


def test_a_refused_condition_is_reported_on_its_flow(app):
    bpmn = diagram(('decision == "approve"', "__import__('os').system('id') == 0"))
    element, line, message = only_problem(bpmn)
    assert (element, line) == ("flow_approved", line_of(bpmn, 'id="flow_approved"'))
    assert "Only these functions may be called" in message


def test_a_refused_timer_expression_is_reported_on_its_event(app):
    bpmn = diagram(('deadline("3bd")', "().__class__.__mro__"))
    element, line, message = only_problem(bpmn)
    assert (element, line) == ("approve_overdue", line_of(bpmn, 'id="approve_overdue"'))
    assert "Attribute access" in message


def test_a_script_task_with_an_import_is_refused(app):
    script = '<bpmn:script>import os\nos.system("id")</bpmn:script>'
    end = "<bpmn:outgoing>flow_checked</bpmn:outgoing>\n"
    bpmn = diagram(SCRIPT_CHECK, (f"{end}    </bpmn:userTask>", f"{end}      {script}\n    </bpmn:scriptTask>"))
    element, line, message = only_problem(bpmn)
    assert (element, line) == ("check", line_of(bpmn, '<bpmn:scriptTask id="check"'))
    assert "Import statements are not allowed in scripts" in message


def test_duplicate_ids_are_refused_with_both_lines(app):
    bpmn = diagram(('<bpmn:endEvent id="end_other">', '<bpmn:endEvent id="end_approved">'),
                   ('targetRef="end_other"', 'targetRef="end_approved"'))
    found = problems(bpmn)
    assert found, "duplicate ids accepted"
    assert {element for element, _, _ in found} == {"end_approved"}
    first, second = [n for n, text in enumerate(bpmn.decode().splitlines(), 1) if 'id="end_approved"' in text]
    ours = [(line, message) for _, line, message in found if "'end_approved'" in message]
    assert ours and ours[0][0] == second and str(first) in ours[0][1]


def test_an_element_id_equal_to_a_service_operator_is_refused(app):
    bpmn = diagram(('<bpmn:endEvent id="end_reminded">', '<bpmn:endEvent id="remind">'),
                   ('targetRef="end_reminded"', 'targetRef="remind"'))
    element, line, message = only_problem(bpmn)
    assert (element, line) == ("remind", line_of(bpmn, 'serviceTaskOperator id="remind"'))
    assert str(line_of(bpmn, '<bpmn:endEvent id="remind"')) in message


def test_a_cycle_timer_is_refused(app):
    bpmn = diagram(('<bpmn:timeDate xsi:type="bpmn:tFormalExpression">deadline("3bd")</bpmn:timeDate>',
                    '<bpmn:timeCycle xsi:type="bpmn:tFormalExpression">"R3/PT1H"</bpmn:timeCycle>'))
    element, line, message = only_problem(bpmn)
    assert (element, line) == ("approve_overdue", line_of(bpmn, 'id="approve_overdue"'))
    assert "timeCycle" in message


def test_a_boundary_event_on_a_missing_task_is_refused(app):
    bpmn = diagram(('attachedToRef="approve"', 'attachedToRef="ghost"'))
    element, line, message = only_problem(bpmn)
    assert (element, line) == ("approve_overdue", line_of(bpmn, 'id="approve_overdue"'))
    assert "'ghost'" in message


def test_faults_spiffworkflow_finds_are_located_too(app):
    # SpiffWorkflow names the element but not the line of semantic faults ...
    no_condition = diagram(('decision == "approve"', ""))
    element, line, _ = only_problem(no_condition)
    assert (element, line) == ("flow_approved", line_of(no_condition, 'id="flow_approved"'))
    # ... and the line but not the element of schema faults.
    schema = diagram(('cancelActivity="false"', 'cancelActivity="maybe"'))
    element, line, message = only_problem(schema)
    assert (element, line) == ("approve_overdue", line_of(schema, 'id="approve_overdue"'))
    assert "cancelActivity" in message


# --- deploy ---------------------------------------------------------------------------------

def test_deploy_stores_immutable_versions_by_content(app):
    bpmn = diagram()
    first, created = engine.deploy(bpmn, FORMS, user=None)
    assert created and first.version == 1 and first.key == KEY
    assert first.sha256 == hashlib.sha256(bpmn).hexdigest()
    assert first.bpmn == bpmn
    db.session.commit()

    again, created = engine.deploy(bpmn, FORMS, user=None)
    assert not created and again.id == first.id

    changed = diagram(('name="承認">', 'name="市の承認">'))
    second, created = engine.deploy(changed, FORMS, user=None)
    db.session.commit()
    assert created and second.version == 2
    assert second.sha256 == hashlib.sha256(changed).hexdigest() != first.sha256
    rows = db.session.execute(sa.select(ProcessDefinition.version, ProcessDefinition.sha256)
                              .where(ProcessDefinition.key == KEY).order_by(ProcessDefinition.version)).all()
    assert rows == [(1, first.sha256), (2, second.sha256)]
    assert db.session.get(ProcessDefinition, first.id).bpmn == bpmn  # version 1 is untouched


def test_deploy_refuses_an_invalid_diagram_and_stores_nothing(app):
    with pytest.raises(engine.DiagramInvalid) as refused:
        engine.deploy(diagram(('value="3bd"', 'value="3x"')), FORMS, user=None)
    assert any(p.element_id == "approve" for p in refused.value.problems)
    assert db.session.scalar(sa.select(sa.func.count()).where(ProcessDefinition.key == KEY)) == 0


# --- runs that would not end ----------------------------------------------------------------

SCRIPT_LOOP = (
    SCRIPT_CHECK,
    ("<bpmn:incoming>flow_to_check</bpmn:incoming>",
     "<bpmn:incoming>flow_to_check</bpmn:incoming>\n      <bpmn:incoming>flow_again</bpmn:incoming>"),
    ("<bpmn:outgoing>flow_checked</bpmn:outgoing>\n    </bpmn:userTask>",
     "<bpmn:outgoing>flow_checked</bpmn:outgoing>\n      <bpmn:script>turns = 1</bpmn:script>\n    </bpmn:scriptTask>"),
    ('<bpmn:endEvent id="end_checked">\n      <bpmn:incoming>flow_checked</bpmn:incoming>\n    </bpmn:endEvent>',
     '<bpmn:exclusiveGateway id="again" default="flow_again">\n      <bpmn:incoming>flow_checked</bpmn:incoming>\n'
     '      <bpmn:outgoing>flow_again</bpmn:outgoing>\n    </bpmn:exclusiveGateway>'),
    ('<bpmn:flowNodeRef>end_checked</bpmn:flowNodeRef>', '<bpmn:flowNodeRef>again</bpmn:flowNodeRef>'),
    ('targetRef="end_checked" />', 'targetRef="again" />\n'
                                   '    <bpmn:sequenceFlow id="flow_again" sourceRef="again" targetRef="check" />'),
)


def test_a_loop_of_automatic_steps_is_refused(app):
    # Each turn would run the script again inside one action (about a thousand turns before
    # SpiffWorkflow stops, each up to the script time limit).
    bpmn = diagram(*SCRIPT_LOOP)
    element, line, message = only_problem(bpmn)
    assert (element, line) == ("check", line_of(bpmn, '<bpmn:scriptTask id="check"'))
    assert "check" in message and "again" in message


def test_a_send_back_loop_through_a_user_task_is_fine(app):
    bpmn = diagram(
        ('<bpmn:outgoing>flow_other</bpmn:outgoing>\n    </bpmn:exclusiveGateway>',
         '<bpmn:outgoing>flow_other</bpmn:outgoing>\n      <bpmn:outgoing>flow_send_back</bpmn:outgoing>\n'
         '    </bpmn:exclusiveGateway>'),
        ('<bpmn:incoming>flow_start</bpmn:incoming>',
         '<bpmn:incoming>flow_start</bpmn:incoming>\n      <bpmn:incoming>flow_send_back</bpmn:incoming>'),
        ('<bpmn:sequenceFlow id="flow_other"',
         '<bpmn:sequenceFlow id="flow_send_back" sourceRef="gw_decision" targetRef="request">\n'
         '      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">decision == "send_back"'
         '</bpmn:conditionExpression>\n    </bpmn:sequenceFlow>\n    <bpmn:sequenceFlow id="flow_other"'),
    )
    assert problems(bpmn) == []


@pytest.mark.parametrize("marker", [
    "<bpmn:multiInstanceLoopCharacteristics><bpmn:loopCardinality>1000000000</bpmn:loopCardinality>"
    "</bpmn:multiInstanceLoopCharacteristics>",
    "<bpmn:standardLoopCharacteristics loopMaximum=\"1000000000\" />",
])
def test_loop_markers_are_refused(app, marker):
    # A parallel multi-instance task creates all its instances at once: 10**9 of them here.
    bpmn = diagram(("<bpmn:outgoing>flow_checked</bpmn:outgoing>\n    </bpmn:userTask>",
                    f"<bpmn:outgoing>flow_checked</bpmn:outgoing>\n      {marker}\n    </bpmn:userTask>"))
    element, line, message = only_problem(bpmn)
    assert (element, line) == ("check", line_of(bpmn, '<bpmn:userTask id="check"'))
    assert "gateway" in message


@pytest.mark.parametrize("prefix", ["TOOLONGPREFIX", "../X", "cpy", ""])
def test_a_reference_prefix_that_could_not_be_stored_is_refused(app, prefix):
    """A long prefix would fail every new request on PostgreSQL; "../" would become a path in exports."""
    from pathlib import Path

    from webapp import processes

    shipped = (Path(app.config["PROCESSES_DIR"]) / "copying_consent.bpmn").read_bytes()
    bpmn = shipped.replace(b'name="reference_prefix" value="CPY"', f'name="reference_prefix" value="{prefix}"'.encode())
    assert bpmn != shipped
    with force_locale("en"):
        messages = [str(p.message) for p in versions.validate(bpmn, processes.load_forms()).problems]
    assert any("reference_prefix" in m for m in messages), messages


def test_an_end_event_outcome_that_could_not_be_stored_is_refused(app):
    """The outcome becomes the request's outcome (40 characters): longer would fail every run ending there."""
    fits = diagram(('<bpmn:endEvent id="end_approved">', '<bpmn:endEvent id="end_approved"><bpmn:extensionElements>'
                    f'<spiffworkflow:properties><spiffworkflow:property name="outcome" value="{"a" * 40}" />'
                    '</spiffworkflow:properties></bpmn:extensionElements>'))
    assert problems(fits) == []
    bpmn = fits.replace(b'"' + b"a" * 40 + b'"', b'"' + b"a" * 41 + b'"')
    element, line, message = only_problem(bpmn)
    assert (element, line) == ("end_approved", line_of(bpmn, '<bpmn:endEvent id="end_approved">'))
    assert "outcome" in message and "40" in message
