"""The realistic data set, written in bulk into a fresh database.

World: the demo world and the shipped flows (through the app, as ``make run`` does), then
departments, contractors, 200 contracts with their assets and 2,000 people with role grants,
inserted in bulk. Requests: clones of the engine-made templates (:mod:`bench.templates`)
with new ids, task guids rewritten consistently in the workflow state and the inbox rows,
people and assets of the clone's own contract, and every date shifted so that due dates
spread as described in README.md. Audit: every event the clones imply plus logins, sorted
by time and hash-chained exactly as :mod:`webapp.audit` does, with the chain head set.
"""
from __future__ import annotations

import copy
import hashlib
import json
import random
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any

import sqlalchemy as sa

from .appctx import NOW, PASSWORD
from .bulk import Writer
from .templates import UUID_RE, Template

WORLD_T0 = NOW - timedelta(days=120)
SWEEP_END = NOW + timedelta(hours=2)  # the sweep group's escalation timers fall in (NOW, SWEEP_END]
FUTURE = (SWEEP_END + timedelta(minutes=1), NOW + timedelta(days=5))  # everyone else's next due / timer
VARIANTS = 4  # per (template, contract): which of the contract's people play the template's roles


@dataclass
class Sizes:
    open_tasks: int
    audit_events: int
    users: int = 2000
    contracts: int = 200
    departments: int = 20
    contractors: int = 60
    staff_per_contract: int = 8
    sweep: int = 10_000  # overdue approvals whose escalation comes due in the sweep
    sweep_sample: int = 100  # more of the same, escalated first in the SQLite-without-statistics sample
    escalated: int = 3_000  # overdue approvals already reminded and escalated
    focus_visible: int = 1_000  # the focus approver's open tasks
    act_pool: int = 400  # approvals the complete_ms approver works through
    tp_pool: int = 8_000  # approvals for the throughput run (timers far in the future)


FULL = Sizes(open_tasks=100_000, audit_events=1_000_000)
QUICK = Sizes(open_tasks=10_000, audit_events=100_000, sweep=1_000, sweep_sample=50, escalated=300, act_pool=150,
              tp_pool=2_500)


@dataclass
class World:
    """Who is who in the generated world (ids), for the measurements."""

    contracts: dict[int, dict[str, Any]] = field(default_factory=dict)  # id -> number, department_id, assets, staff…
    dept_holders: dict[int, dict[str, list[int]]] = field(default_factory=dict)
    usernames: dict[int, str] = field(default_factory=dict)
    user_ids: dict[str, int] = field(default_factory=dict)
    focus_contracts: list[int] = field(default_factory=list)
    act_contract: int = 0
    tp_contracts: list[int] = field(default_factory=list)
    general_contracts: list[int] = field(default_factory=list)
    focus_approver: str = "bench_focus"
    act_approver: str = "bench_approver"
    starter: str = ""
    admin: str = "bench_admin"
    tp_approvers: list[str] = field(default_factory=list)
    act_tasks: list[int] = field(default_factory=list)
    tp_tasks: list[int] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)


# --- the world ------------------------------------------------------------------------------------

def base_world(only: set[str] | None, clock) -> dict[str, Any]:
    """The demo world and the flows, through the app (a handful of rows)."""
    from webapp import demo
    from webapp.extensions import db

    from .templates import deploy

    clock.set(WORLD_T0)
    deployed, failed = deploy(only)
    demo.load(with_requests=False)
    db.session.commit()
    clock.set(NOW)
    return {"deployed": deployed, "deploy_failed": failed}


def _audit(events: list, at: datetime, actor: int | None, action: str, detail: dict[str, Any],
           instance_id: int | None = None, contract_id: int | None = None) -> None:
    events.append((at, actor, action, instance_id, contract_id, detail))


def people_and_contracts(w: Writer, sizes: Sizes, rng: random.Random, events: list) -> World:
    from webapp.auth.passwords import hash_password
    from webapp.extensions import db

    t = db.metadata.tables
    world = World()
    # Cheap argon2 (the tests' parameters) for every generated user: one hash, one password.
    pw_hash = hash_password(PASSWORD)
    org_id = w.next_id(t["organization"])
    depts: list[int] = []
    orgs = []
    for i in range(sizes.departments):
        orgs.append((org_id, f"D-B{i + 1:02d}", f"ベンチ第{i + 1}課", f"Bench Division {i + 1}", "city", None, None, False))
        depts.append(org_id)
        org_id += 1
    contractors = []
    for i in range(sizes.contractors):
        orgs.append((org_id, f"C-B{i + 1:03d}", f"株式会社ベンチ{i + 1}", f"Bench Co. {i + 1}", "contractor", None,
                     f"{9000000000000 + i}", False))
        contractors.append(org_id)
        org_id += 1
    w.insert(t["organization"], ["id", "code", "name", "name_en", "kind", "parent_id", "corporate_number",
                                 "is_information_policy"], orgs)
    focus, act, tp, general = depts[0], depts[1], depts[2], depts[3:]

    existing = w.execute('SELECT id, number, department_id FROM "contract"')
    n_new = sizes.contracts - len(existing)
    contract_id = w.next_id(t["contract"])
    asset_id = w.next_id(t["asset"])
    contracts, assets = [], []
    plan = [focus, focus, act, tp, tp] + [general[i % len(general)] for i in range(max(0, n_new - 5))]
    for i, dept in enumerate(plan[:n_new]):
        number = f"R8-B-{i + 1:04d}"
        contractor = contractors[i % len(contractors)]
        contracts.append((contract_id, number, f"ベンチ業務委託 第{i + 1}号", dept, contractor, None, date(2026, 4, 1),
                          date(2028, 3, 31), f"管理 太郎{i + 1}", "情報管理責任者"))
        ids = []
        for k, (code, name, cls) in enumerate((("A-001", "住民データ", "機密性3"), ("A-002", "帳票イメージ", "機密性3"),
                                               ("A-003", "システム設計書", "機密性2"))):
            assets.append((asset_id, contract_id, code, f"{name}（{number}）", cls, ""))
            ids.append(asset_id)
            asset_id += 1
        world.contracts[contract_id] = {"number": number, "department_id": dept, "assets": ids, "contractor": contractor,
                                        "staff": [], "manager": []}
        if dept == focus:
            world.focus_contracts.append(contract_id)
        elif dept == act:
            world.act_contract = contract_id
        elif dept == tp:
            world.tp_contracts.append(contract_id)
        else:
            world.general_contracts.append(contract_id)
        contract_id += 1
    w.insert(t["contract"], ["id", "number", "title", "department_id", "contractor_id", "second_contractor_id",
                             "starts_on", "ends_on", "info_manager_name", "info_manager_title"], contracts)
    w.insert(t["asset"], ["id", "contract_id", "code", "name", "classification", "description"], assets)

    # People. Existing (demo) users keep their names; every generated one has PASSWORD.
    for uid, username in w.execute('SELECT id, username FROM "user"'):
        world.usernames[uid], world.user_ids[username] = username, uid
    user_id, grant_id = w.next_id(t["user"]), w.next_id(t["role_grant"])
    users, grants = [], []
    at = WORLD_T0 + timedelta(hours=1)

    def add_user(username: str, name: str, org: int | None, roles: list[tuple[str, str, int | None]]) -> int:
        nonlocal user_id, grant_id, at
        uid = user_id
        users.append((uid, username, name, username, f"{username}@bench.shodaku.example", pw_hash, org, "ja", True, 0,
                      at))
        _audit(events, at, None, "user_created", {"user": username})
        for role, scope, target in roles:
            grants.append((grant_id, uid, role, scope, target if scope == "department" else None,
                           target if scope == "contract" else None))
            _audit(events, at, None, "role_granted",
                   {"user": username, "role": role, "scope": scope, "department_id": target if scope == "department" else None},
                   contract_id=target if scope == "contract" else None)
            grant_id += 1
        world.usernames[uid], world.user_ids[username] = username, uid
        user_id += 1
        at += timedelta(seconds=37)
        return uid

    serial = 0
    for cid, c in world.contracts.items():
        for k in range(sizes.staff_per_contract):
            serial += 1
            name = "bench_starter" if cid == world.act_contract and k == 0 else f"s{serial:05d}"
            c["staff"].append(add_user(name, f"受託 花子{serial}", c["contractor"],
                                       [("contractor_staff", "contract", cid)]))
        serial += 1
        c["manager"].append(add_user(f"m{serial:05d}", f"管理 次郎{serial}", c["contractor"],
                                     [("contractor_manager", "contract", cid), ("contractor_staff", "contract", cid)]))
    world.starter = "bench_starter"
    for d in depts:
        world.dept_holders[d] = {"city_approver": [], "city_supervisor": [], "city_director": []}
    act_names = [world.act_approver] + [f"bench_approver{i}" for i in range(2, 6)]
    for d, names in ((focus, [world.focus_approver]), (act, act_names), (tp, [f"bench_tp{i + 1}" for i in range(4)])):
        for name in names:
            world.dept_holders[d]["city_approver"].append(
                add_user(name, f"承認 {name}", d, [("city_approver", "department", d)]))
    world.tp_approvers = [f"bench_tp{i + 1}" for i in range(4)]
    for i, d in enumerate(depts):
        for k in range(2):
            world.dept_holders[d]["city_supervisor"].append(
                add_user(f"sup{i + 1:02d}_{k + 1}", f"課長 {i + 1}-{k + 1}", d, [("city_supervisor", "department", d)]))
        world.dept_holders[d]["city_director"].append(
            add_user(f"dir{i + 1:02d}", f"部長 {i + 1}", d, [("city_director", "department", d)]))
    for name, role, n in (("bench_admin", "admin", 1), ("bench_auditor", "auditor", 2),
                          ("bench_security", "security_officer", 4), ("bench_owner", "process_owner", 2)):
        for k in range(n):
            add_user(name if n == 1 else f"{name}{k + 1}", f"{role} {k + 1}", depts[0], [(role, "global", None)])
    remaining = sizes.users - len(world.usernames)
    for k in range(max(0, remaining)):
        d = general[k % len(general)]
        world.dept_holders[d]["city_approver"].append(
            add_user(f"a{k + 1:04d}", f"承認 三郎{k + 1}", d, [("city_approver", "department", d)]))
    w.insert(t["user"], ["id", "username", "display_name", "display_name_en", "email", "password_hash",
                         "organization_id", "locale", "active", "session_epoch", "created_at"], users)
    w.insert(t["role_grant"], ["id", "user_id", "role", "scope", "department_id", "contract_id"], grants)
    world.counts["users"] = len(world.usernames)
    world.counts["contracts"] = len(existing) + len(contracts)
    return world


# --- clones ----------------------------------------------------------------------------------------

def rewrite(value: Any, strings: dict[str, str], asset_fields: set[str], assets: dict[int, int]) -> Any:
    """A copy of ``value`` with exact-match strings replaced and asset ids mapped under asset fields."""
    if isinstance(value, str):
        return strings.get(value, value)
    if isinstance(value, list):
        return [rewrite(v, strings, asset_fields, assets) for v in value]
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if k in asset_fields and isinstance(v, list):
                out[k] = [assets.get(x, x) if isinstance(x, int) else x for x in v]
            else:
                out[k] = rewrite(v, strings, asset_fields, assets)
        return out
    return value


class Variant:
    """One template placed on one contract with one cast of people: everything but per-clone ids."""

    def __init__(self, tpl: Template, world: World, contract_id: int, v: int, template_contract_assets: dict[int, int]):
        c = world.contracts[contract_id]
        self.tpl, self.contract_id, self.department_id = tpl, contract_id, c["department_id"]
        holders = world.dept_holders[c["department_id"]]
        self.users: dict[int, int] = {}
        self.dept_role: dict[int, str] = {}
        for uid, (kind, role) in tpl.user_slots.items():
            if kind == "global":
                self.users[uid] = world.user_ids[role]
                continue
            if kind == "contract":
                pool = c["manager"] if role == "contractor_manager" else c["staff"]
            else:
                pool = holders.get(role) or holders["city_approver"]
                self.dept_role[uid] = role
            self.users[uid] = pool[(v + uid) % len(pool)]
        strings = {tpl.contract_number: c["number"]}
        for uid, new in self.users.items():
            old_name, new_name = tpl.usernames[uid], world.usernames[new]
            strings[old_name] = new_name
            strings[f"user:{old_name}"] = f"user:{new_name}"
        self.strings = strings
        self.assets = {aid: c["assets"][i] for aid, i in template_contract_assets.items() if i < len(c["assets"])}
        rw = lambda x: rewrite(x, strings, tpl.asset_fields, self.assets)  # noqa: E731
        self.rw = rw
        self.request_data = rw(tpl.instance["request_data"])
        self.title = rw(tpl.instance["title"])
        self.tasks = [rw(x) for x in tpl.tasks]
        self.decisions = [rw(x) for x in tpl.decisions]
        self.audits = [rw(x) for x in tpl.audits]
        self.registers = {k: [rw(r) for r in rows] for k, rows in tpl.registers.items()}
        self.state_format, self.uuid_keys = self._state_format()

    def _state_format(self) -> tuple[str, list[str]]:
        tpl = self.tpl
        state = copy.deepcopy(tpl.state)
        for task in state["tasks"].values():
            if task.get("data"):
                task["data"] = self.rw(task["data"])
            delta = task.get("delta")
            if delta and delta.get("updates"):
                delta["updates"] = self.rw(delta["updates"])
        state["data"] = self.rw(state.get("data") or {})
        timers: list[str] = []
        for task in state["tasks"].values():
            value = (task.get("internal_data") or {}).get("event_value")
            if isinstance(value, str):
                task["internal_data"]["event_value"] = f"@@t{len(timers)}@@"
                timers.append(value)
        self.timer_values = [datetime.fromisoformat(v) for v in timers]
        text = json.dumps(state, ensure_ascii=False).replace("%", "%%")
        uuids = list(dict.fromkeys(m.group(0) for m in UUID_RE.finditer(text)))
        for i, u in enumerate(uuids):
            text = text.replace(u, f"%(u{i})s")
        for i in range(len(timers)):
            text = text.replace(f"@@t{i}@@", f"%(t{i})s")
        for i, d in enumerate(tpl.decisions):
            text = text.replace(json.dumps(d["number"], ensure_ascii=False)[1:-1], f"%(d{i})s")
        text = text.replace(tpl.instance["reference"], "%(ref)s")
        return text, uuids


def _fast_uuid(rng: random.Random) -> str:
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"


@dataclass
class Clone:
    tpl: Template
    group: str
    contract_id: int
    v: int
    delta: timedelta  # shift of every moment
    tdelta: timedelta  # shift of timers and due dates (differs only for the throughput pool)

    @property
    def created(self) -> datetime:
        return self.tpl.instance["created_at"] + self.delta


def plan(templates: list[Template], world: World, sizes: Sizes, rng: random.Random) -> list[Clone]:
    by = {t.name: t for t in templates}
    fresh, reminded, escalated, sent_back = by["cc_fresh"], by["cc_reminded"], by["cc_escalated"], by["cc_sent_back"]
    others = [t for t in templates if not t.name.startswith("cc_")]
    real_now = datetime.now(timezone.utc)
    tp_base = max(NOW, real_now) + timedelta(days=90)
    clones: list[Clone] = []

    def place(tpl: Template, group: str, contract_id: int) -> None:
        anchor = tpl.anchor
        if group == "sweep":
            target = NOW + timedelta(seconds=rng.randint(1, int((SWEEP_END - NOW).total_seconds())))
        elif group == "escalated":
            anchor = tpl.due
            gap = max(v for v, _ in tpl.timers()) - anchor
            lo, hi = NOW - timedelta(days=20), NOW - gap - timedelta(hours=1)
            target = lo + timedelta(seconds=rng.randint(0, int((hi - lo).total_seconds())))
        elif anchor is not None:
            lo, hi = FUTURE
            target = lo + timedelta(seconds=rng.randint(0, int((hi - lo).total_seconds())))
        else:
            target = None
        if target is None:
            delta = timedelta(seconds=rng.randint(-40 * 86400, int((NOW - tpl.instance["created_at"]).total_seconds())))
        else:
            delta = target - anchor
            delta = timedelta(seconds=round(delta.total_seconds()))
        tdelta = delta
        if group == "tp":
            tdelta = timedelta(seconds=round((tp_base + timedelta(seconds=rng.randint(0, 86400)) - anchor).total_seconds()))
        clones.append(Clone(tpl, group, contract_id, rng.randrange(VARIANTS), delta, tdelta))

    def rr(contracts: list[int], i: int) -> int:
        return contracts[i % len(contracts)]

    # The focus approver: exactly focus_visible open city_approver tasks on their department's contracts.
    focus_sweep, focus_escalated = sizes.focus_visible // 10, sizes.focus_visible // 50
    mix = [("sweep", reminded)] * focus_sweep + [("escalated", escalated)] * focus_escalated
    mix += [("future", fresh)] * (sizes.focus_visible - len(mix))
    for i, (group, tpl) in enumerate(mix):
        place(tpl, group, rr(world.focus_contracts, i))
    for i in range(sizes.focus_visible // 20):
        place(sent_back, "future", rr(world.focus_contracts, i))
    for i in range(sizes.act_pool):
        place(fresh, "act", world.act_contract)
    for i in range(sizes.tp_pool):
        place(fresh, "tp", rr(world.tp_contracts, i))
    general = world.general_contracts
    for i in range(sizes.sweep + sizes.sweep_sample - focus_sweep):
        place(reminded, "sweep", rr(general, rng.randrange(len(general))))
    for i in range(sizes.escalated - focus_escalated):
        place(escalated, "escalated", rr(general, rng.randrange(len(general))))
    open_count = sum(len(c.tpl.open_tasks) for c in clones)
    weights = [(fresh, 0.55), (sent_back, 0.10)] + [(t, 0.35 / len(others)) for t in others]
    if not others:
        weights = [(fresh, 0.85), (sent_back, 0.15)]
    choices, cum = [w[0] for w in weights], []
    total = 0.0
    for _, wgt in weights:
        total += wgt
        cum.append(total)
    while open_count < sizes.open_tasks:
        tpl = rng.choices(choices, cum_weights=cum)[0]
        if open_count + len(tpl.open_tasks) > sizes.open_tasks:
            tpl = fresh
        place(tpl, "future", general[rng.randrange(len(general))])
        open_count += len(tpl.open_tasks)
    clones.sort(key=lambda c: c.created)
    return clones


def write_clones(w: Writer, clones: list[Clone], world: World, templates: list[Template], rng: random.Random,
                 events: list, config: dict[str, Any]) -> dict[str, Any]:
    from webapp import numbering
    from webapp.extensions import db

    t = db.metadata.tables
    template_assets = {}
    for tpl in templates:
        template_assets[tpl.name] = tpl.asset_index
    ids = {name: w.next_id(t[name]) for name in ("process_instance", "human_task", "decision", "task_candidate")}
    reg_ids = {name: w.next_id(t[name]) for tpl in templates for name in tpl.registers}
    variants: dict[tuple[str, int, int], Variant] = {}
    seqs: dict[str, int] = {}
    pi_cols = ["id", "definition_id", "process_key", "contract_id", "requester_id", "reference", "title", "status",
               "outcome", "state", "serializer_version", "lock_version", "next_timer_at", "request_version",
               "request_data", "path", "created_at", "updated_at", "completed_at"]
    ht_cols = ["id", "instance_id", "task_guid", "spec_id", "title", "lane", "process_key", "contract_id",
               "department_id", "instance_reference", "instance_title", "requester_id", "assignee_id", "status",
               "due_at", "escalation_level", "created_at", "completed_at", "completed_by_id", "outcome", "submitted"]
    de_cols = ["id", "number", "instance_id", "human_task_id", "task_title", "outcome", "comment", "decided_by_id",
               "decided_at", "request_version", "content", "content_sha256"]
    tc_cols = ["id", "human_task_id", "user_id", "reason", "added_at"]
    definitions = dict(w.execute('SELECT key, MAX(id) FROM "process_definition" GROUP BY key'))
    user_fk = {name: [c.name for c in tbl.c if any(fk.column.table.name == "user" for fk in tbl.c[c.name].foreign_keys)]
               for name, tbl in t.items()}
    state_bytes = 0
    counts = {"instances": 0, "open_tasks": 0, "human_task_rows": 0, "decisions": 0, "task_candidates": 0,
              "register_rows": 0, "overdue_open": 0}
    by_group: dict[str, int] = {}
    by_process: dict[str, int] = {}
    samples: dict[str, int] = {}

    def next_seq(name: str) -> int:
        seqs[name] = seqs.get(name, 0) + 1
        return seqs[name]

    batch = 4000
    for start in range(0, len(clones), batch):
        pis, hts, des, tcs = [], [], [], []
        regs: dict[str, list[dict[str, Any]]] = {}
        for clone in clones[start:start + batch]:
            tpl = clone.tpl
            key = (tpl.name, clone.contract_id, clone.v)
            var = variants.get(key)
            if var is None:
                var = variants[key] = Variant(tpl, world, clone.contract_id, clone.v, template_assets[tpl.name])
            d, td = clone.delta, clone.tdelta
            iid = ids["process_instance"]
            ids["process_instance"] += 1
            created = tpl.instance["created_at"] + d
            prefix = tpl.reference_prefix
            ref = numbering.format_reference(config, prefix, created,
                                             next_seq(numbering.request_series(prefix, created)))
            numbers = []
            for dec in tpl.decisions:
                decided = dec["decided_at"] + d
                numbers.append(numbering.format_decision_number(config, decided,
                                                                next_seq(numbering.decision_series(decided))))
            values = {f"u{i}": _fast_uuid(rng) for i in range(len(var.uuid_keys))}
            guid_of = {u: values[f"u{i}"] for i, u in enumerate(var.uuid_keys)}
            for i, moment in enumerate(var.timer_values):
                values[f"t{i}"] = (moment + td).isoformat()
            for i, number in enumerate(numbers):
                values[f"d{i}"] = number
            values["ref"] = ref
            state = var.state_format % values
            state_bytes += len(state)
            per = {tpl.instance["reference"]: ref}
            per.update({dec["number"]: numbers[i] for i, dec in enumerate(tpl.decisions)})
            rw = (lambda x: rewrite(x, per, set(), {})) if per else (lambda x: x)
            users = var.users
            inst = tpl.instance
            nt = inst["next_timer_at"]
            pis.append((iid, definitions[tpl.process_key], tpl.process_key, clone.contract_id, users[inst["requester_id"]],
                        ref, var.title, "running", inst["outcome"], state, inst["serializer_version"], 1,
                        nt + td if nt else None, inst["request_version"], var.request_data, inst["path"],
                        created, inst["updated_at"] + d, None))
            task_ids = {}
            for row in var.tasks:
                hid = ids["human_task"]
                ids["human_task"] += 1
                task_ids[row["id"]] = hid
                guid = guid_of.get(row["task_guid"]) or _fast_uuid(rng)
                due = row["due_at"] + td if row["due_at"] else None
                hts.append((hid, iid, guid, row["spec_id"], row["title"], row["lane"], tpl.process_key,
                            clone.contract_id, var.department_id, ref, var.title, users[row["requester_id"]],
                            users.get(row["assignee_id"]) if row["assignee_id"] else None, row["status"], due,
                            row["escalation_level"], row["created_at"] + d,
                            row["completed_at"] + d if row["completed_at"] else None,
                            users.get(row["completed_by_id"]) if row["completed_by_id"] else None, row["outcome"],
                            rw(row["submitted"]) if row["submitted"] is not None else None))
                if row["status"] == "open":
                    counts["open_tasks"] += 1
                    if due is not None and due < NOW:
                        counts["overdue_open"] += 1
                    if clone.group == "act":
                        world.act_tasks.append(hid)
                    elif clone.group == "tp":
                        world.tp_tasks.append(hid)
            for i, row in enumerate(var.decisions):
                did = ids["decision"]
                ids["decision"] += 1
                content = rw(row["content"])
                digest = hashlib.sha256(json.dumps(content, sort_keys=True, ensure_ascii=False, default=str).encode()
                                        ).hexdigest()
                des.append((did, numbers[i], iid, task_ids[row["human_task_id"]], row["task_title"], row["outcome"],
                            row["comment"], users[row["decided_by_id"]], row["decided_at"] + d, row["request_version"],
                            content, digest))
            for row in tpl.candidates:
                people = [users[row["user_id"]]]
                role = var.dept_role.get(row["user_id"])
                if role and row["reason"] == "escalation":
                    people = world.dept_holders[var.department_id].get(role) or people
                for person in people:
                    tcs.append((ids["task_candidate"], task_ids[row["human_task_id"]], person, row["reason"],
                                row["added_at"] + d))
                    ids["task_candidate"] += 1
            for ev in var.audits:
                _audit(events, ev["at"] + d, users.get(ev["actor_id"]) if ev["actor_id"] else None, ev["action"],
                       rw(ev["detail"]), iid, clone.contract_id)
            for name, rows in var.registers.items():
                for row in rows:
                    new = {}
                    for col, val in row.items():
                        if col == "id":
                            val = reg_ids[name]
                            reg_ids[name] += 1
                        elif col == "instance_id":
                            val = iid
                        elif col == "contract_id":
                            val = clone.contract_id
                        elif col in user_fk[name] and val is not None:
                            val = users.get(val, val)
                        elif isinstance(val, datetime):
                            val = val + d
                        else:
                            val = rw(val)
                        new[col] = val
                    regs.setdefault(name, []).append(new)
            counts["instances"] += 1
            samples.setdefault(tpl.name, iid)
            by_group[clone.group] = by_group.get(clone.group, 0) + 1
            by_process[tpl.process_key] = by_process.get(tpl.process_key, 0) + 1
        w.insert(t["process_instance"], pi_cols, pis)
        w.insert(t["human_task"], ht_cols, hts)
        counts["human_task_rows"] += len(hts)
        if des:
            w.insert(t["decision"], de_cols, des)
            counts["decisions"] += len(des)
        if tcs:
            w.insert(t["task_candidate"], tc_cols, tcs)
            counts["task_candidates"] += len(tcs)
        for name, rows in regs.items():
            cols = list(rows[0])
            w.insert(t[name], cols, [[r[c] for c in cols] for r in rows])
            counts["register_rows"] += len(rows)
        w.commit()
    # Document numbers continue after the generated ones.
    for name, last in seqs.items():
        current = w.execute('SELECT next_value FROM "document_sequence" WHERE name = ?', (name,))
        if current:
            w.execute('UPDATE "document_sequence" SET next_value = ? WHERE name = ?', (max(current[0][0], last + 1), name))
        else:
            w.execute('INSERT INTO "document_sequence" (name, next_value) VALUES (?, ?)', (name, last + 1))
    w.commit()
    counts["state_mb"] = round(state_bytes / 1e6, 1)
    counts["variants"] = len(variants)
    counts["by_group"] = by_group
    counts["by_process"] = by_process
    counts["sequences"] = seqs
    counts["samples"] = samples
    return counts


# --- audit ---------------------------------------------------------------------------------------

def audit_chain(w: Writer, events: list, sizes: Sizes, world: World, rng: random.Random) -> dict[str, int]:
    """Merge the app's own events with the generated ones and logins, sort by time, chain, write."""
    from webapp.audit import GENESIS, link_hash
    from webapp.extensions import db

    t = db.metadata.tables
    existing = w.execute('SELECT "at", actor_id, action, instance_id, contract_id, detail FROM "audit_event" ORDER BY seq')
    for at, actor, action, instance_id, contract_id, detail in existing:
        if isinstance(at, str):
            at = datetime.fromisoformat(at)
        at = at.replace(tzinfo=timezone.utc) if at.tzinfo is None else at
        detail = json.loads(detail) if isinstance(detail, str) else detail
        events.append((at, actor, action, instance_id, contract_id, detail))
    counts = {"app": len(existing), "implied": len(events) - len(existing)}
    user_ids = list(world.usernames)
    span = int((NOW - WORLD_T0).total_seconds())
    logins = max(0, sizes.audit_events - len(events))
    for _ in range(logins):
        at = WORLD_T0 + timedelta(seconds=rng.randint(0, span), microseconds=rng.randint(0, 999_999))
        events.append((at, rng.choice(user_ids), "login", None, None, {}))
    counts["logins"] = logins
    events.sort(key=lambda e: e[0])
    w.execute('DELETE FROM "audit_event"')
    prev = GENESIS
    cols = ["id", "seq", "at", "actor_id", "action", "instance_id", "contract_id", "detail", "prev_hash", "hash"]

    def rows():
        nonlocal prev
        for seq, (at, actor, action, instance_id, contract_id, detail) in enumerate(events, start=1):
            at = at.astimezone(timezone.utc)
            digest = link_hash(prev, seq, at, actor, action, instance_id, contract_id, detail)
            yield (seq, seq, at, actor, action, instance_id, contract_id, detail, prev, digest)
            prev = digest

    n = w.insert(t["audit_event"], cols, rows())
    w.execute('DELETE FROM "audit_chain"')
    w.execute('INSERT INTO "audit_chain" (id, seq, last_hash) VALUES (1, ?, ?)', (n, prev))
    w.commit()
    counts["total"] = n
    return counts


# --- everything ------------------------------------------------------------------------------------

def generate(app, clock, templates: list[Template], sizes: Sizes, only: set[str] | None, seed: int = 2026,
             sqlite_analyze: bool = False) -> tuple[World, dict[str, Any]]:
    from webapp.extensions import db

    rng = random.Random(seed)
    phases: dict[str, float] = {}
    info: dict[str, Any] = {}
    t0 = time.perf_counter()
    with app.app_context():
        info.update(base_world(only, clock))
        phases["base_world_s"] = time.perf_counter() - t0
        w = Writer(db.engine)
        try:
            events: list = []
            t1 = time.perf_counter()
            world = people_and_contracts(w, sizes, rng, events)
            w.commit()
            phases["people_contracts_s"] = time.perf_counter() - t1
            t1 = time.perf_counter()
            usable = [tp for tp in templates if tp.process_key in info["deployed"]]
            clones = plan(usable, world, sizes, rng)
            phases["plan_s"] = time.perf_counter() - t1
            t1 = time.perf_counter()
            info["clones"] = write_clones(w, clones, world, usable, rng, events, app.config)
            phases["clones_s"] = time.perf_counter() - t1
            t1 = time.perf_counter()
            info["audit"] = audit_chain(w, events, sizes, world, rng)
            phases["audit_s"] = time.perf_counter() - t1
            t1 = time.perf_counter()
            w.execute('UPDATE "outbox_message" SET sent_at = ? WHERE sent_at IS NULL', (_db_now(w),))
            w.fix_sequences(db.metadata)
            w.commit()
            phases["finish_s"] = time.perf_counter() - t1
        finally:
            w.close()
        t1 = time.perf_counter()
        analyze(db.engine, sqlite_analyze)
        phases["analyze_s"] = time.perf_counter() - t1
        db.session.remove()
    phases["total_s"] = time.perf_counter() - t0
    world.counts.update({k: v for k, v in info["clones"].items() if isinstance(v, int)})
    info["phases"] = {k: round(v, 2) for k, v in phases.items()}
    return world, info


def _db_now(w: Writer) -> Any:
    return NOW.strftime("%Y-%m-%d %H:%M:%S.%f") if w.sqlite else NOW.replace(tzinfo=None)


def analyze(engine: sa.Engine, sqlite_too: bool = False) -> None:
    """Planner statistics and the visibility map, as each database in service would have them.

    PostgreSQL: ``VACUUM ANALYZE``, what autovacuum does after a load this size (without the
    visibility map, counts cannot be index-only). SQLite: nothing by default, as a database is
    until the worker's first daily pass; ``sqlite_too`` runs that pass's job,
    ``webapp.jobs.refresh_statistics`` (needs the app context).
    """
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("VACUUM ANALYZE"))
    elif sqlite_too:
        from webapp import jobs
        from webapp.extensions import db

        if not jobs.refresh_statistics(NOW):
            raise RuntimeError("the day's statistics job was already claimed in the bench database")
        db.session.commit()
