"""Real instances made through the engine, one per (process, state), to be cloned in bulk.

A scratch SQLite world (the demo world plus the shipped flows, at ``T0`` = NOW - 14 days)
gets, through the engine verbs the views use:

* copying_consent at the approval step (``cc_fresh``), after its reminder timer fired
  (``cc_reminded``, waiting for the escalation timer), after both timers fired
  (``cc_escalated``) and sent back to the contractor (``cc_sent_back``);
* every other flow's demo samples (``webapp.demo_flows``) that deploy and run cleanly.

Each running instance with open tasks becomes a :class:`Template`: its workflow state,
instance row, inbox rows, decisions, candidates, audit events and register rows, with
the people and assets they name resolved to *roles* and *asset codes* so the clone can
name the same roles and codes on another contract.
"""
from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from webapp.testing import FakeClock

from .appctx import NOW, make_app, migrate

logger = logging.getLogger(__name__)
T0 = NOW - timedelta(days=14)
UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# Tables written by the engine itself (cloned explicitly); every other table with an
# ``instance_id`` column is a register written by a flow's handlers and is cloned generically.
ENGINE_TABLES = {"process_instance", "human_task", "decision", "task_candidate", "audit_event", "outbox_message",
                 "attachment"}


@dataclass
class Template:
    name: str
    process_key: str
    state: dict[str, Any]
    instance: dict[str, Any]
    tasks: list[dict[str, Any]]
    decisions: list[dict[str, Any]]
    candidates: list[dict[str, Any]]
    audits: list[dict[str, Any]]
    registers: dict[str, list[dict[str, Any]]]
    contract_number: str
    # template user id -> ("contract"|"dept", role) or ("global", username)
    user_slots: dict[int, tuple[str, str]] = field(default_factory=dict)
    usernames: dict[int, str] = field(default_factory=dict)
    # template asset id -> index of its code among its contract's asset codes
    asset_index: dict[int, int] = field(default_factory=dict)
    asset_fields: set[str] = field(default_factory=set)
    reference_prefix: str = "REQ"

    @property
    def open_tasks(self) -> list[dict[str, Any]]:
        return [t for t in self.tasks if t["status"] == "open"]

    @property
    def lanes(self) -> list[str]:
        return [t["lane"] for t in self.open_tasks]

    def timers(self) -> list[tuple[datetime, bool]]:
        out = []
        for task in self.state["tasks"].values():
            value = (task.get("internal_data") or {}).get("event_value")
            if isinstance(value, str):
                try:
                    out.append((datetime.fromisoformat(value), bool(task["internal_data"].get("event_fired"))))
                except ValueError:
                    pass
        return out

    @property
    def anchor(self) -> datetime | None:
        """The moment a clone is placed by: its next timer, else its earliest open due date."""
        if self.instance["next_timer_at"] is not None:
            return self.instance["next_timer_at"]
        dues = [t["due_at"] for t in self.open_tasks if t["due_at"] is not None]
        return min(dues) if dues else None

    @property
    def due(self) -> datetime | None:
        dues = [t["due_at"] for t in self.open_tasks if t["due_at"] is not None]
        return min(dues) if dues else None


def deploy(only: set[str] | None) -> tuple[list[str], dict[str, str]]:
    """Deploy each shipped diagram in its own savepoint: a half-finished one is skipped, not fatal."""
    from webapp import engine, guardrails, processes
    from webapp.extensions import db

    forms = processes.load_forms()
    ok, failed = [], {}
    for path in processes.shipped_diagrams():
        if only is not None and path.stem not in only:
            continue
        try:
            with db.session.begin_nested():
                engine.deploy(path.read_bytes(), forms, user=None, note=f"shipped {path.name}",
                              policy_check=guardrails.check)
            ok.append(path.stem)
        except Exception as err:  # noqa: BLE001 - any fault of someone's half-finished diagram
            failed[path.stem] = f"{type(err).__name__}: {str(err)[:300]}"
    db.session.commit()
    return ok, failed


def _copy_request(world, contract, requester, **overrides: Any) -> dict[str, Any]:
    """The demo's copying request (the same data a person files in the demo)."""
    from webapp.demo_flows import copying_consent

    return copying_consent.request(world, contract, requester, **overrides)


def _make_copying(world, clock: FakeClock) -> dict[int, str]:
    from webapp import engine
    from webapp.extensions import db

    contract = world.contract("R8-ZEI-0012")
    kobayashi, tanaka = world.user("kobayashi"), world.user("tanaka")
    names: dict[int, str] = {}

    def start(name: str) -> Any:
        clock.set(T0)
        instance = engine.start("copying_consent", contract, _copy_request(world, contract, kobayashi), kobayashi)
        db.session.commit()
        names[instance.id] = name
        return instance

    # fire_due_timers fires every due instance, so the one whose timers fire latest comes first.
    escalated = start("cc_escalated")
    clock.set(escalated.next_timer_at + timedelta(minutes=1))
    engine.fire_due_timers(clock.now)
    db.session.commit()
    clock.set(escalated.next_timer_at + timedelta(minutes=1))
    engine.fire_due_timers(clock.now)
    db.session.commit()
    reminded = start("cc_reminded")
    clock.set(reminded.next_timer_at + timedelta(minutes=1))
    engine.fire_due_timers(clock.now)
    db.session.commit()
    start("cc_fresh")
    sent_back = start("cc_sent_back")
    clock.set(T0 + timedelta(hours=2))
    world.complete(sent_back, "approve", tanaka,
                   {"decision": "send_back", "comment": "対象データの範囲（項目・件数）を具体的に記載してください。"})
    db.session.commit()
    clock.set(T0)
    return names


def build(workdir: Path, only: set[str] | None) -> tuple[list[Template], dict[str, Any]]:
    """Make the scratch world and return its templates plus notes (what deployed, what failed)."""
    from webapp import demo, demo_flows
    from webapp.extensions import db

    clock = FakeClock(T0)
    path = workdir / "templates.sqlite3"
    app = make_app(f"sqlite:///{path}", workdir / "template-files", clock)
    notes: dict[str, Any] = {}
    with app.app_context():
        migrate(app)
        deployed, failed = deploy(only)
        notes["deployed"], notes["deploy_failed"] = deployed, failed
        if "copying_consent" not in deployed:
            raise SystemExit(f"copying_consent did not deploy: {failed.get('copying_consent', 'not found')}")
        demo.load(with_requests=False)
        db.session.commit()
        world = demo.DemoWorld()
        names = _make_copying(world, clock)
        sample_failed = {}
        for module in demo_flows.modules():
            flow = module.__name__.rsplit(".", 1)[1]
            if flow == "copying_consent" or flow not in deployed:
                continue
            clock.set(T0)
            try:
                with db.session.begin_nested():
                    module.load(world)
                db.session.commit()
            except Exception as err:  # noqa: BLE001 - a sample of a flow in the works
                db.session.rollback()
                sample_failed[flow] = f"{type(err).__name__}: {str(err)[:300]}"
        notes["samples_failed"] = sample_failed
        templates = _harvest(names)
        _check_copying({t.name: t for t in templates})
        db.session.remove()
        db.engine.dispose()
    notes["templates"] = {t.name: {"process": t.process_key, "open": [f"{x['spec_id']}@{x['lane']}" for x in t.open_tasks],
                                   "state_bytes": len(json.dumps(t.state))} for t in templates}
    return templates, notes


def _check_copying(by: dict[str, Template]) -> None:
    """The copying templates are in the states their names say (a wrong one would skew every figure)."""
    fresh, reminded, escalated = by["cc_fresh"], by["cc_reminded"], by["cc_escalated"]
    problems = []
    if fresh.instance["next_timer_at"] != fresh.due or fresh.open_tasks[0]["escalation_level"] != 0:
        problems.append("cc_fresh: next timer should be its due date, not escalated")
    if not (reminded.instance["next_timer_at"] and reminded.instance["next_timer_at"] > reminded.due) \
            or reminded.open_tasks[0]["escalation_level"] != 0:
        problems.append("cc_reminded: should wait for its escalation timer, not be escalated")
    if escalated.instance["next_timer_at"] is not None or escalated.open_tasks[0]["escalation_level"] != 1:
        problems.append("cc_escalated: should be escalated with no timer left")
    if by["cc_sent_back"].lanes != ["contractor_staff"]:
        problems.append("cc_sent_back: should wait for the contractor")
    if problems:
        raise RuntimeError("; ".join(problems))


def _rows(table: sa.Table, *where: Any) -> list[dict[str, Any]]:
    from webapp.extensions import db

    return [dict(r._mapping) for r in db.session.execute(sa.select(table).where(*where))]


def _slot(user_id: int) -> tuple[str, str]:
    from webapp.extensions import db
    from webapp.models import RoleGrant, User

    grants = db.session.scalars(sa.select(RoleGrant).where(RoleGrant.user_id == user_id).order_by(RoleGrant.id)).all()
    for kind, attr in (("contract", "contract_id"), ("dept", "department_id")):
        for g in grants:
            if getattr(g, attr) is not None:
                return kind, g.role
    return "global", db.session.get(User, user_id).username


def _harvest(names: dict[int, str]) -> list[Template]:
    from webapp.extensions import db
    from webapp.models import Asset, Contract, ProcessInstance, User

    meta = db.metadata
    t = meta.tables
    registers = [tbl for tbl in meta.sorted_tables if "instance_id" in tbl.c and tbl.name not in ENGINE_TABLES]
    user_fk_cols = {tbl.name: [c.name for c in tbl.c if any(fk.column.table.name == "user" for fk in c.foreign_keys)]
                    for tbl in meta.sorted_tables}
    templates: list[Template] = []
    seen: dict[str, int] = {}
    for inst in db.session.scalars(sa.select(ProcessInstance).where(ProcessInstance.status == "running")
                                   .order_by(ProcessInstance.id)).all():
        row = _rows(t["process_instance"], t["process_instance"].c.id == inst.id)[0]
        tasks = _rows(t["human_task"], t["human_task"].c.instance_id == inst.id)
        if not any(x["status"] == "open" for x in tasks):
            continue
        name = names.get(inst.id)
        if name is None:
            base = inst.process_key + ":" + "+".join(sorted(x["spec_id"] for x in tasks if x["status"] == "open"))
            seen[base] = seen.get(base, 0) + 1
            name = base if seen[base] == 1 else f"{base}#{seen[base]}"
        task_ids = [x["id"] for x in tasks]
        tpl = Template(
            name=name, process_key=inst.process_key, state=json.loads(inst.state), instance=row, tasks=tasks,
            decisions=_rows(t["decision"], t["decision"].c.instance_id == inst.id),
            candidates=_rows(t["task_candidate"], t["task_candidate"].c.human_task_id.in_(task_ids)) if task_ids else [],
            audits=_rows(t["audit_event"], t["audit_event"].c.instance_id == inst.id),
            registers={r.name: _rows(r, r.c.instance_id == inst.id) for r in registers},
            contract_number=inst.contract.number,
            reference_prefix=inst.definition.meta.get("reference_prefix", "REQ"),
        )
        tpl.registers = {k: v for k, v in tpl.registers.items() if v}
        # People: every user id any cloned row names.
        ids: set[int] = set()
        for tbl_name, rows in [("process_instance", [row]), ("human_task", tasks), ("decision", tpl.decisions),
                               ("task_candidate", tpl.candidates), ("audit_event", tpl.audits),
                               *tpl.registers.items()]:
            for r in rows:
                ids |= {r[c] for c in user_fk_cols[tbl_name] if r.get(c) is not None}
        for uid in ids:
            tpl.user_slots[uid] = _slot(uid)
            tpl.usernames[uid] = db.session.get(User, uid).username
        # Assets: by their code's position among the contract's codes (every contract has A-001..A-003 style codes).
        for contract in db.session.scalars(sa.select(Contract)):
            assets = db.session.scalars(sa.select(Asset).where(Asset.contract_id == contract.id).order_by(Asset.code)).all()
            for i, a in enumerate(assets):
                tpl.asset_index[a.id] = i
        for form in inst.definition.forms.values():
            for prop_name, prop in (form.get("properties") or {}).items():
                if prop.get("x-source") == "assets":
                    tpl.asset_fields.add(prop_name)
        templates.append(tpl)
    return templates
