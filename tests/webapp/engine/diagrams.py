"""A small valid diagram for engine tests, and helpers to break it one fault at a time.

``engine_probe``: the contractor files a request; then two city tasks run in parallel:
``approve`` (a decision, due in 3 business days, with a non-interrupting boundary timer
``deadline("3bd")`` that reminds the approver) and ``check`` (no timer). ``approve`` leads
to a gateway with a condition.
"""
from __future__ import annotations

import json
from pathlib import Path

KEY = "engine_probe"
REQUEST_FORM = {
    "type": "object",
    "title": "申請",
    "required": ["purpose"],
    "properties": {"purpose": {"type": "string", "title": "目的", "minLength": 1, "maxLength": 200}},
    "additionalProperties": False,
}
DECISION_FORM = json.loads((Path(__file__).parents[3] / "processes/forms/common/decision.json").read_text("utf-8"))
FORMS = {"probe/request.json": REQUEST_FORM, "common/decision.json": DECISION_FORM}

BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" \
xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" \
xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="Definitions_probe" \
targetNamespace="http://shodaku.example/bpmn">
  <bpmn:process id="engine_probe" name="エンジン検査" isExecutable="true">
    <bpmn:laneSet id="LaneSet_probe">
      <bpmn:lane id="Lane_contractor" name="contractor_staff">
        <bpmn:flowNodeRef>start</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>request</bpmn:flowNodeRef>
      </bpmn:lane>
      <bpmn:lane id="Lane_city" name="city_approver">
        <bpmn:flowNodeRef>split</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>approve</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>approve_overdue</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>remind_approver</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>end_reminded</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>gw_decision</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>end_approved</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>end_other</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>check</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>end_checked</bpmn:flowNodeRef>
      </bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="start" name="開始">
      <bpmn:outgoing>flow_start</bpmn:outgoing>
    </bpmn:startEvent>
    <bpmn:userTask id="request" name="申請の入力">
      <bpmn:extensionElements>
        <spiffworkflow:properties>
          <spiffworkflow:property name="form" value="probe/request.json" />
        </spiffworkflow:properties>
      </bpmn:extensionElements>
      <bpmn:incoming>flow_start</bpmn:incoming>
      <bpmn:outgoing>flow_request</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:parallelGateway id="split">
      <bpmn:incoming>flow_request</bpmn:incoming>
      <bpmn:outgoing>flow_to_approve</bpmn:outgoing>
      <bpmn:outgoing>flow_to_check</bpmn:outgoing>
    </bpmn:parallelGateway>
    <bpmn:userTask id="approve" name="承認">
      <bpmn:extensionElements>
        <spiffworkflow:properties>
          <spiffworkflow:property name="form" value="common/decision.json" />
          <spiffworkflow:property name="due" value="3bd" />
          <spiffworkflow:property name="decision" value="true" />
          <spiffworkflow:property name="not_requester" value="true" />
        </spiffworkflow:properties>
      </bpmn:extensionElements>
      <bpmn:incoming>flow_to_approve</bpmn:incoming>
      <bpmn:outgoing>flow_approve_gw</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:boundaryEvent id="approve_overdue" name="期限" cancelActivity="false" attachedToRef="approve">
      <bpmn:outgoing>flow_overdue</bpmn:outgoing>
      <bpmn:timerEventDefinition id="TimerEventDefinition_overdue">
        <bpmn:timeDate xsi:type="bpmn:tFormalExpression">deadline("3bd")</bpmn:timeDate>
      </bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:serviceTask id="remind_approver" name="督促">
      <bpmn:extensionElements>
        <spiffworkflow:serviceTaskOperator id="remind" resultVariable="reminded">
          <spiffworkflow:parameters>
            <spiffworkflow:parameter id="task" type="str" value="&quot;approve&quot;" />
          </spiffworkflow:parameters>
        </spiffworkflow:serviceTaskOperator>
      </bpmn:extensionElements>
      <bpmn:incoming>flow_overdue</bpmn:incoming>
      <bpmn:outgoing>flow_reminded</bpmn:outgoing>
    </bpmn:serviceTask>
    <bpmn:endEvent id="end_reminded">
      <bpmn:incoming>flow_reminded</bpmn:incoming>
    </bpmn:endEvent>
    <bpmn:exclusiveGateway id="gw_decision" name="判断" default="flow_other">
      <bpmn:incoming>flow_approve_gw</bpmn:incoming>
      <bpmn:outgoing>flow_approved</bpmn:outgoing>
      <bpmn:outgoing>flow_other</bpmn:outgoing>
    </bpmn:exclusiveGateway>
    <bpmn:endEvent id="end_approved">
      <bpmn:incoming>flow_approved</bpmn:incoming>
    </bpmn:endEvent>
    <bpmn:endEvent id="end_other">
      <bpmn:incoming>flow_other</bpmn:incoming>
    </bpmn:endEvent>
    <bpmn:userTask id="check" name="確認">
      <bpmn:incoming>flow_to_check</bpmn:incoming>
      <bpmn:outgoing>flow_checked</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:endEvent id="end_checked">
      <bpmn:incoming>flow_checked</bpmn:incoming>
    </bpmn:endEvent>
    <bpmn:sequenceFlow id="flow_start" sourceRef="start" targetRef="request" />
    <bpmn:sequenceFlow id="flow_request" sourceRef="request" targetRef="split" />
    <bpmn:sequenceFlow id="flow_to_approve" sourceRef="split" targetRef="approve" />
    <bpmn:sequenceFlow id="flow_to_check" sourceRef="split" targetRef="check" />
    <bpmn:sequenceFlow id="flow_approve_gw" sourceRef="approve" targetRef="gw_decision" />
    <bpmn:sequenceFlow id="flow_approved" name="承認" sourceRef="gw_decision" targetRef="end_approved">
      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">decision == "approve"</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="flow_other" sourceRef="gw_decision" targetRef="end_other" />
    <bpmn:sequenceFlow id="flow_overdue" sourceRef="approve_overdue" targetRef="remind_approver" />
    <bpmn:sequenceFlow id="flow_reminded" sourceRef="remind_approver" targetRef="end_reminded" />
    <bpmn:sequenceFlow id="flow_checked" sourceRef="check" targetRef="end_checked" />
  </bpmn:process>
</bpmn:definitions>
"""


def diagram(*replacements: tuple[str, str]) -> bytes:
    """The probe diagram with each ``(old, new)`` replaced; each ``old`` must occur exactly once."""
    text = BPMN
    for old, new in replacements:
        assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times in the probe diagram"
        text = text.replace(old, new)
    return text.encode("utf-8")


def line_of(bpmn: bytes, fragment: str) -> int:
    """The 1-based line of the only line of ``bpmn`` containing ``fragment``."""
    lines = [n for n, line in enumerate(bpmn.decode("utf-8").splitlines(), 1) if fragment in line]
    assert len(lines) == 1, f"{fragment!r} is on lines {lines}"
    return lines[0]
