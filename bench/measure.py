"""The in-process measurements: engine floor, complete, start, inbox, the worker's sweep.

Per-request figures go through the Flask test client (``bench.appctx.Client``: one app
context per request, as in production), so they include routing, login session, CSRF,
form validation, the engine, the projection, the audit append and the commit; they exclude
only the HTTP server and the network (the throughput run measures those).
"""
from __future__ import annotations

import gc
import os
import statistics
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from .appctx import NOW
from .generate import SWEEP_END, World


def stats(samples_s: list[float], scale: float = 1000.0) -> dict[str, Any]:
    """Median, p95, mean, min, max (ms unless ``scale`` says otherwise) and the machine load then."""
    xs = sorted(samples_s)
    n = len(xs)
    if not n:
        return {"n": 0}
    p95 = xs[min(n - 1, max(0, int(round(0.95 * n)) - 1))]
    return {"median": round(statistics.median(xs) * scale, 3), "p95": round(p95 * scale, 3),
            "mean": round(statistics.fmean(xs) * scale, 3), "min": round(xs[0] * scale, 3),
            "max": round(xs[-1] * scale, 3), "n": n, "load1": round(os.getloadavg()[0], 2)}


def timed(fn: Callable[[], Any], reps: int, warmup: int = 5) -> list[float]:
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


# --- 1. the engine alone ---------------------------------------------------------------------------

class Floor:
    """SpiffWorkflow with our parser, serializer and sandboxed script engine; no database, no web.

    One copying-consent instance at its approval step (``kind == "copy"``, so approving runs
    the gateways and two service tasks, stubbed here to return at once), ready to be approved
    again and again: :func:`engine_floor` times a block of runs, and the figures judged against
    the floor take runs of their own between their samples (``floor_between_ms``), so that a
    ratio compares two things measured while the machine ran at the same speed.
    """

    PHASES = ("loads", "complete", "dumps", "save_extras")

    def __init__(self, app, world: World):
        from webapp.engine import store
        from webapp.extensions import db
        from webapp.models import HumanTask, ProcessInstance

        with app.app_context():
            task = db.session.get(HumanTask, world.act_tasks[-1])
            instance = db.session.get(ProcessInstance, task.instance_id)
            definition = instance.definition
            self.state, self.guid = instance.state, task.task_guid
            self.spec, self.subs = store.specs_for(definition.sha256, definition.bpmn, definition.key,
                                                   app.config["BPMN_MAX_BYTES"])
            self.time_limit = app.config["SCRIPT_TIME_LIMIT_S"]
            db.session.remove()
        self.calls: list[str] = []
        self.payload = {"decision": "approve", "conditions": "作業後に消去すること",
                        "decision_number": "木情第2026-99999号"}

    def _stub_service(self, name: str, params: dict[str, Any], data: Any) -> dict[str, Any]:
        self.calls.append(name)
        return {"stub": name}

    def run(self) -> tuple[float, dict[str, float]]:
        """One approval: its total (loads + complete + dumps) and its phases, in seconds."""
        from webapp.engine import run, store
        from webapp.engine.scripting import diagram_functions

        t0 = time.perf_counter()
        wf = store.loads(self.state, self.spec, self.subs)
        wf.script_engine = run.SandboxScriptEngine(environment=run.SandboxEnvironment(
            diagram_functions(NOW, ()), self._stub_service, self.time_limit, NOW))
        t1 = time.perf_counter()
        run.complete_user_task(wf, run.user_task(wf, self.guid), self.payload)
        t2 = time.perf_counter()
        store.dumps(wf)
        t3 = time.perf_counter()
        run.next_timer_at(wf), run.ready_user_tasks(wf), wf.is_completed()
        t4 = time.perf_counter()
        return t3 - t0, dict(zip(self.PHASES, (t1 - t0, t2 - t1, t3 - t2, t4 - t3)))

    def between(self) -> list[float]:
        """A few runs in a row, the first left out: measured warm, as :func:`engine_floor` measures
        it (a single run right after a request finds the processor's caches full of the request
        and takes a fifth longer), only at this moment of the run."""
        self.run()
        return [self.run()[0] for _ in range(3)]

    def check(self) -> None:
        if not wf_completed_ok(self.calls):
            raise RuntimeError(f"engine floor did not run the approval path: {self.calls[-4:]}")


def engine_floor(floor: Floor, reps: int) -> dict[str, Any]:
    phases: dict[str, list[float]] = {k: [] for k in Floor.PHASES}
    totals: list[float] = []
    for _ in range(20):
        floor.run()
    gc.collect()
    for _ in range(reps):
        total, split = floor.run()
        totals.append(total)
        for k, v in split.items():
            phases[k].append(v)
    floor.check()
    out = stats(totals)
    out["phases_median_ms"] = {k: round(statistics.median(v) * 1000, 3) for k, v in phases.items()}
    out["state_bytes"] = len(floor.state)
    out["what"] = "store.loads + complete approval (gateways, register_copy and notify stubbed) + do_engine_steps + store.dumps"
    return out


def wf_completed_ok(calls: list[str]) -> bool:
    return "register_copy" in calls and "notify_requester" in calls


# --- 2.-4. over HTTP (test client) --------------------------------------------------------------------

def form_encoding(client, url: str) -> str:
    """The body type a browser posts the page's form in: multipart only if the form says so
    (it does when it carries files)."""
    response = client.get(url)
    html = response.get_data(as_text=True)
    start = html.find('class="schema-form"')
    if response.status_code != 200 or start < 0:
        raise RuntimeError(f"no form on {url}: HTTP {response.status_code}")
    tag = html[html.rfind("<form", 0, start):start]
    return "multipart/form-data" if 'enctype="multipart/form-data"' in tag else "application/x-www-form-urlencoded"


def shown(client, response) -> None:
    """Load the page a redirect leads to, untimed, as the browser does next. That page shows the
    confirmation the action flashed and removes it from the session; a client that never
    loaded it would carry every confirmation so far in its session cookie, and each request
    would decode and re-sign a longer cookie (measured: 9.6 ms per approval at first, 16 ms
    after 100)."""
    page = client.get(response.headers["Location"])
    if page.status_code != 200:
        raise RuntimeError(f"after the redirect to {response.headers['Location']}: HTTP {page.status_code}")


def complete(app, world: World, reps: int, warmup: int, floor: Floor | None = None, *,
             after: Callable[[Any, Any], None] | None = None) -> dict[str, Any]:
    """``after``: what follows each POST (default :func:`shown`)."""
    after = after or shown
    client = app.test_client()
    client.login(world.act_approver)
    token = client.csrf_fields("/auth/settings")["csrf_token"]
    tasks = list(world.act_tasks)
    need = reps + warmup
    if len(tasks) < need:
        raise RuntimeError(f"only {len(tasks)} approval tasks pooled for {need} completions")
    encoding = form_encoding(client, f"/tasks/{tasks[0]}")
    samples: list[float] = []
    between: list[float] = []
    for i, task_id in enumerate(tasks[:need]):
        t = time.perf_counter()
        response = client.post(f"/tasks/{task_id}", data={"decision": "approve", "conditions": "", "comment": "",
                                                          "csrf_token": token}, content_type=encoding)
        dt = time.perf_counter() - t
        if response.status_code != 302:
            raise RuntimeError(f"completing task {task_id}: HTTP {response.status_code}\n"
                               f"{response.get_data(as_text=True)[:2000]}")
        if i >= warmup:
            samples.append(dt)
        after(client, response)
        if floor is not None and i >= warmup and i % 5 == 0:
            between += floor.between()
    world.act_tasks = tasks[need:]
    out = stats(samples)
    if between:
        out["floor_between_ms"] = stats(between)
    out["encoding"] = encoding
    out["what"] = "POST /tasks/<id> decision=approve (copy kind: decision record, copy register, notification, audit)"
    return out


def start(app, world: World, reps: int, warmup: int, floor: Floor | None = None, *,
          after: Callable[[Any, Any], None] | None = None) -> dict[str, Any]:
    """``after``: what follows each POST (default :func:`shown`)."""
    after = after or shown
    from webapp.extensions import db
    from webapp.models import Asset, HumanTask, ProcessInstance

    client = app.test_client()
    client.login(world.starter)
    contract_id = world.act_contract
    token = client.csrf_fields(f"/requests/new/copying_consent/{contract_id}")["csrf_token"]
    with app.app_context():
        asset = db.session.scalar(sa.select(Asset.id).where(Asset.contract_id == contract_id).order_by(Asset.code))
    form = {"kind": "copy", "assets": [str(asset)], "purpose": "ベンチマーク：検証環境への複製", "copies": "1",
            "medium": "暗号化USBメモリ", "location": "サーバ室キャビネット", "handlers": [f"user:{world.starter}"],
            "destruction_due": "2027-03-01", "csrf_token": token}
    encoding = form_encoding(client, f"/requests/new/copying_consent/{contract_id}")
    samples: list[float] = []
    between: list[float] = []
    for i in range(reps + warmup):
        t = time.perf_counter()
        response = client.post(f"/requests/new/copying_consent/{contract_id}", data=form, content_type=encoding)
        dt = time.perf_counter() - t
        if response.status_code != 302:
            raise RuntimeError(f"start: HTTP {response.status_code}\n{response.get_data(as_text=True)[:2000]}")
        if i >= warmup:
            samples.append(dt)
        after(client, response)
        if floor is not None and i >= warmup and i % 5 == 0:
            between += floor.between()
    with app.app_context():
        last = db.session.scalar(sa.select(ProcessInstance).order_by(ProcessInstance.id.desc()).limit(1))
        first_task = db.session.scalar(sa.select(HumanTask.spec_id).where(HumanTask.instance_id == last.id,
                                                                          HumanTask.status == "open"))
        db.session.remove()
    out = stats(samples)
    if between:
        out["floor_between_ms"] = stats(between)
    out["encoding"] = encoding
    out["first_task"] = first_task
    out["what"] = "POST /requests/new/copying_consent/<contract> (validation, engine to the city's approval, inbox " \
                  "row, notifications to the department's approvers, audit)"
    return out


def inbox(app, world: World, reps: int, warmup: int) -> dict[str, Any]:
    from webapp import access
    from webapp.extensions import db
    from webapp.models import HumanTask, User

    out: dict[str, Any] = {}
    for label, username, url in (("approver", world.focus_approver, "/"), ("admin", world.admin, "/?scope=all")):
        client = app.test_client()
        client.login(username)
        response = client.get(url)
        html = response.get_data(as_text=True)
        if response.status_code != 200:
            raise RuntimeError(f"inbox {url} for {username}: HTTP {response.status_code}")
        rows = html.count('data-label="') and html.count("/tasks/")
        samples = timed(lambda: client.get(url), reps, warmup)
        with app.app_context():
            user = db.session.scalar(sa.select(User).where(User.username == username))
            where = access.visible_task_filter(user) if "scope=all" in url else access.actionable_task_filter(user)
            visible = db.session.scalar(sa.select(sa.func.count()).select_from(HumanTask)
                                        .where(HumanTask.status == "open", where))
            db.session.remove()
        out[label] = {**stats(samples), "url": url, "user": username, "visible_open_tasks": visible,
                      "task_links_on_page": rows}
    return out


def records(app, world: World, reps: int, warmup: int) -> dict[str, Any]:
    """The records listing's first page (50 requests, newest first) for the focus approver and
    for the administrator, who sees every request. Not among the issue's figures: measured
    because at 100,000 requests it once took 0.9 s (a sort of every row, workflow state and all)."""
    from webapp.extensions import db
    from webapp.models import ProcessInstance

    out: dict[str, Any] = {}
    for label, username in (("approver", world.focus_approver), ("admin", world.admin)):
        client = app.test_client()
        client.login(username)
        response = client.get("/records/")
        if response.status_code != 200:
            raise RuntimeError(f"records for {username}: HTTP {response.status_code}")
        samples = timed(lambda: client.get("/records/"), reps, warmup)
        out[label] = {**stats(samples), "url": "/records/", "user": username}
    with app.app_context():
        out["requests"] = db.session.scalar(sa.select(sa.func.count()).select_from(ProcessInstance))
        db.session.remove()
    return out


# --- 5. the worker ---------------------------------------------------------------------------------

def nothing_due(app, clock, reps: int) -> dict[str, Any]:
    """``worker.run_once()`` at NOW: no timer due, no mail pending (the generator marked the outbox sent)."""
    from webapp import engine, worker
    from webapp.extensions import db

    clock.set(NOW)
    with app.app_context():
        db.session.execute(sa.text("UPDATE outbox_message SET sent_at = :t WHERE sent_at IS NULL"),
                           {"t": NOW.replace(tzinfo=None)})
        db.session.commit()
        first = worker.run_once()
        if any(first.values()):
            raise RuntimeError(f"something was due at NOW: {first}")
        run_once = timed(worker.run_once, reps, 5)
        timers_only = timed(lambda: (engine.fire_due_timers(NOW), db.session.commit()), reps, 5)
        db.session.remove()
    return {"run_once": stats(run_once), "fire_due_timers": stats(timers_only)}


def sweep_sample(app, clock, count: int) -> dict[str, Any]:
    """``engine.fire_due_timers(limit=count)`` once, past the sweep group's timers: ms per escalation."""
    from webapp import engine
    from webapp.extensions import db

    clock.set(SWEEP_END + timedelta(seconds=1))
    with app.app_context():
        t = time.perf_counter()
        fired = engine.fire_due_timers(clock.now, limit=count)
        db.session.commit()
        total = time.perf_counter() - t
        db.session.remove()
    clock.set(NOW)
    return {"instances_advanced": fired, "total_s": round(total, 2),
            "per_task_ms": round(total / max(1, fired) * 1000, 3), "load1": round(os.getloadavg()[0], 2)}


def sweep(app, clock, world: World, expected: int, floor: Floor | None = None) -> dict[str, Any]:
    """Move the clock past the sweep group's escalation timers; ``worker.run_once()`` until nothing fires."""
    import webapp.engine as engine_pkg
    from webapp import worker
    from webapp.engine import actions
    from webapp.extensions import db
    from webapp.models import AuditEvent, HumanTask, OutboxMessage, ProcessInstance

    with app.app_context():
        due = db.session.scalar(sa.select(sa.func.count()).select_from(ProcessInstance)
                                .where(ProcessInstance.next_timer_at <= SWEEP_END, ProcessInstance.status == "running"))
        escalated_before = db.session.scalar(sa.select(sa.func.count()).select_from(HumanTask)
                                             .where(HumanTask.status == "open", HumanTask.escalation_level > 0))
        db.session.execute(sa.text("UPDATE outbox_message SET sent_at = :t WHERE sent_at IS NULL"),
                           {"t": NOW.replace(tzinfo=None)})
        db.session.commit()
        max_audit = db.session.scalar(sa.select(sa.func.max(AuditEvent.seq)))
        max_outbox = db.session.scalar(sa.select(sa.func.max(OutboxMessage.id))) or 0
        clock.set(SWEEP_END + timedelta(seconds=1))
        timer_time, set_aside, calls = [0.0], [0.0], [0]
        between: list[float] = []
        original = actions.fire_timers_of

        def timed_fire(instance_id, now, closed=None, **kwargs):
            t = time.perf_counter()
            try:
                return original(instance_id, now, closed, **kwargs)
            finally:
                timer_time[0] += time.perf_counter() - t
                calls[0] += 1
                if floor is not None and calls[0] % 25 == 0:  # a floor sample now and then, left out of the totals
                    t = time.perf_counter()
                    between.extend(floor.between())
                    set_aside[0] += time.perf_counter() - t

        engine_pkg.fire_timers_of = timed_fire  # instrumentation only: the worker looks it up per instance
        turns, fired, sent, failed = 0, 0, 0, 0
        t0 = time.perf_counter()
        try:
            while True:
                result = worker.run_once()
                turns += 1
                fired += result["timers"]
                sent += result["sent"]
                failed += result["failed"]
                if result["timers"] == 0:
                    break
        finally:
            del engine_pkg.fire_timers_of
        total = time.perf_counter() - t0 - set_aside[0]
        escalated_after = db.session.scalar(sa.select(sa.func.count()).select_from(HumanTask)
                                            .where(HumanTask.status == "open", HumanTask.escalation_level > 0))
        audit_new = db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)
                                      .where(AuditEvent.seq > max_audit))
        outbox_new = db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)
                                       .where(OutboxMessage.id > max_outbox))
        db.session.remove()
    clock.set(NOW)
    escalated = escalated_after - escalated_before
    commit_time = total - timer_time[0]
    return {
        **({"floor_between_ms": stats(between)} if between else {}),
        "instances_due": due, "expected": expected, "instances_advanced": fired, "tasks_escalated": escalated,
        "total_s": round(total, 2), "timers_s": round(timer_time[0], 2),
        "per_task_ms": round(timer_time[0] / max(1, escalated) * 1000, 3),
        "per_task_total_ms": round(total / max(1, escalated) * 1000, 3),
        "other_s": round(commit_time, 2), "worker_turns": turns, "mail_attempted": sent + failed,
        "audit_events_added": audit_new, "outbox_rows_added": outbox_new,
        "load1": round(os.getloadavg()[0], 2),
        "what": "worker.run_once() until no timer fires; timers_s = the sum of engine.fire_timers_of over every "
                "instance (lock and load, fire, escalate handler, save, projection); the rest = engine.due_instances, "
                "a commit per 25 instances (worker.COMMIT_EVERY), digest check, mail attempts (200 a turn)",
    }
