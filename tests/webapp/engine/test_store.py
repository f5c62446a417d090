"""Workflow state is stored without its spec, and specs are parsed once per version (DESIGN rule 5)."""
from __future__ import annotations

import hashlib
import json
from uuid import uuid4

import sqlalchemy as sa
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.spiff.serializer import DEFAULT_CONFIG
from SpiffWorkflow.util.task import TaskState

from tests.helpers import open_task
from tests.webapp.engine.diagrams import FORMS, KEY, diagram
from webapp import clock, engine
from webapp.engine import run, store
from webapp.engine.scripting import script_engine
from webapp.engine.timers import CLOCK_TIMERS
from webapp.extensions import db
from webapp.models import ProcessInstance


def started(world) -> ProcessInstance:
    engine.deploy(diagram(), FORMS, user=None)
    instance = engine.start(KEY, world.zei, {"purpose": "状態の保存"}, world.users["kobayashi"])
    db.session.commit()
    return instance


def specs(instance: ProcessInstance):
    definition = instance.definition
    return store.specs_for(definition.sha256, definition.bpmn, definition.key, 2 * 1024 * 1024)


def test_stored_state_has_no_spec_and_is_smaller_than_a_full_serialization(app, world):
    instance = started(world)
    state = json.loads(instance.state)
    assert "spec" not in state and "subprocess_specs" not in state
    assert state["serializer_version"] == store.SERIALIZER_VERSION

    workflow = store.loads(instance.state, *specs(instance))
    config = dict(DEFAULT_CONFIG)  # SpiffWorkflow's own serializer, taught our clock timers
    config.update({ours: config[original] for original, ours in CLOCK_TIMERS.items()})
    full = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(config)).serialize_json(workflow)
    assert "spec" in json.loads(full)
    assert len(instance.state) < len(full)


def test_the_stored_state_resumes_with_the_cached_spec(app, world):
    instance = started(world)
    round_tripped = json.dumps(json.loads(instance.state))
    workflow = store.loads(round_tripped, *specs(instance))
    workflow.script_engine = script_engine(instance=instance, actor_id=None, now=clock.now(), closed=set(),
                                           notify=lambda *args, **kwargs: None, open_rows=[])
    ready = {t.spec_id: t for t in run.ready_user_tasks(workflow)}
    assert set(ready) == {"approve", "check"}
    assert ready["approve"].data["purpose"] == "状態の保存"  # task data survived without the spec

    approve = run.user_task(workflow, ready["approve"].guid)
    run.complete_user_task(workflow, approve, {"decision": "reject", "comment": "不要"})
    assert approve.state == TaskState.COMPLETED
    assert [t.spec_id for t in run.ready_user_tasks(workflow)] == ["check"]
    assert run.next_timer_at(workflow) is None  # the boundary timer went with its task
    assert "end_other" in run.completed_steps(workflow)

    # The resumed workflow serializes back to spec-less state that loads again.
    again = store.loads(store.dumps(workflow), *specs(instance))
    assert [t.spec_id for t in run.ready_user_tasks(again)] == ["check"]


def test_the_engine_verbs_resume_the_stored_state(app, world):
    instance = started(world)
    task = open_task(instance.id, "approve")
    engine.complete(task.id, {"decision": "approve"}, world.users["tanaka"])
    db.session.commit()
    db.session.refresh(instance)
    assert json.loads(instance.state).get("spec") is None
    assert open_task(instance.id).spec_id == "check"
    assert instance.next_timer_at is None


def test_a_version_is_parsed_once_and_its_specs_are_shared(monkeypatch):
    bpmn = diagram(('name="確認"', f'name="{uuid4().hex}"'))  # bytes no earlier test has cached
    sha = hashlib.sha256(bpmn).hexdigest()
    parses = []
    real = store.build_specs

    def counting(root, key):
        parses.append(key)
        return real(root, key)

    monkeypatch.setattr(store, "build_specs", counting)
    first = store.specs_for(sha, bpmn, KEY, 2 * 1024 * 1024)
    second = store.specs_for(sha, bpmn, KEY, 2 * 1024 * 1024)
    assert parses == [KEY]
    assert first[0] is second[0] and first[1] is second[1]
    assert first[0].name == KEY


def test_instances_of_one_version_share_the_parsed_spec(app, world):
    instance = started(world)
    other = engine.start(KEY, world.zei, {"purpose": "二件目"}, world.users["kobayashi"])
    db.session.commit()
    assert other.definition_id == instance.definition_id
    assert specs(instance)[0] is specs(other)[0]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ProcessInstance)
                             .where(ProcessInstance.process_key == KEY)) == 2


def test_a_kept_version_whose_deploy_rolled_back_is_not_given_to_the_version_reusing_its_id(app, world):
    """Tasks take their version from the versions this process keeps. SQLite hands out the id of
    a version whose deploy rolled back again: the next version under that id must be its own."""
    from webapp.models import User

    tanaka_id = world.users["tanaka"].id
    engine.deploy(diagram(), FORMS, user=None)
    instance = engine.start(KEY, world.zei, {"purpose": "取り消される版"}, world.users["kobayashi"])
    task_id = open_task(instance.id, "approve").id
    db.session.expunge_all()  # a later read in the same transaction, as another page would make it
    assert engine.load_task(task_id, db.session.get(User, tanaka_id)).instance.definition.task_meta("approve")
    db.session.rollback()

    engine.deploy(diagram(('id="approve" name="承認"', 'id="approve" name="最終承認"')), FORMS, user=None)
    instance = engine.start(KEY, world.zei, {"purpose": "残る版"}, world.users["kobayashi"])
    db.session.commit()
    task_id = open_task(instance.id, "approve").id
    db.session.remove()
    task = engine.load_task(task_id, db.session.get(User, tanaka_id))
    assert task.title == "最終承認"
    assert task.instance.definition.task_meta("approve")["name"] == "最終承認"
