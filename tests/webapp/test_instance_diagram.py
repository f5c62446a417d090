"""The instance diagram draws the path the engine took, including branches chosen on what
service tasks wrote (never on the form data alone), and reads no workflow JSON to do it."""
from __future__ import annotations

from tests.helpers import open_task, start_copying
from tests.processes.test_device_connection import confirm, permitted
from webapp import engine
from webapp.extensions import db
from webapp.records.diagram import trace


def diagram_of(instance) -> dict[str, list[str]]:
    db.session.refresh(instance)
    return trace(instance)


def test_a_matching_serial_is_drawn_through_the_register_not_the_stop(world):
    instance = permitted(world)
    confirm(instance, world)  # check_serial writes serial_check["matches"]; gw_serial branches on it
    drawn = diagram_of(instance)
    assert drawn["current"] == ["report_withdrawal"]
    assert {"confirm_check", "check_serial", "gw_serial", "enter_device_register"} <= set(drawn["completed"])
    assert "stop_request" not in drawn["completed"] and "end_stopped" not in drawn["completed"]
    assert {"flow_serial_match", "flow_register_report"} <= set(drawn["flows"])
    assert "flow_serial_mismatch" not in drawn["flows"]


def test_a_serial_that_does_not_match_is_drawn_to_the_stop(world):
    instance = permitted(world)
    confirm(instance, world, serial="PF3K7Q2B")
    drawn = diagram_of(instance)
    assert drawn["current"] == []
    assert drawn["completed"][-2:] == ["stop_request", "end_stopped"]
    assert "enter_device_register" not in drawn["completed"]
    assert "flow_serial_mismatch" in drawn["flows"] and "flow_serial_match" not in drawn["flows"]


def test_an_approved_copying_request_draws_the_approval_not_the_refusal(world):
    instance = start_copying(world)
    engine.complete(open_task(instance.id, "approve").id, {"decision": "approve"}, world.users["tanaka"])
    db.session.commit()
    drawn = diagram_of(instance)
    assert "flow_approved" in drawn["flows"]
    assert "flow_rejected" not in drawn["flows"] and "flow_send_back" not in drawn["flows"]
    assert "notify_rejected" not in drawn["completed"] and drawn["completed"][-1] == "end_approved"


def test_a_send_back_loop_draws_the_loop_and_both_visits(world):
    instance = start_copying(world)
    engine.complete(open_task(instance.id, "approve").id, {"decision": "send_back", "comment": "再提出"},
                    world.users["tanaka"])
    db.session.commit()
    engine.complete(open_task(instance.id, "request").id, dict(instance.request_data), world.users["kobayashi"])
    db.session.commit()
    drawn = diagram_of(instance)
    assert drawn["current"] == ["approve"]
    assert drawn["flows"] == ["flow_start_request", "flow_request_approve", "flow_approve_gw", "flow_send_back"]
    assert drawn["completed"] == ["start", "request", "gw_decision"]  # approve waits again: current, not done


def test_an_instance_saved_before_paths_were_stored_shows_the_steps_people_did(world):
    instance = start_copying(world)
    instance.path = []  # as the migration leaves rows written before it
    db.session.commit()
    drawn = diagram_of(instance)
    assert drawn == {"completed": ["request"], "current": ["approve"], "flows": ["flow_request_approve"]}
