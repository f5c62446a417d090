"""Crashes and outages: a web worker killed mid-completion, the database gone for 10 s,
two worker processes sharing the outbox."""
from __future__ import annotations

import asyncio
import email
import email.policy
import os
import signal
import subprocess
import threading
import time

import sqlalchemy as sa
from aiosmtpd.controller import Controller
from sqlalchemy.engine import make_url

from tests.helpers import start_copying
from tests.ops.browser import Browser
from tests.ops.conftest import BIN, ROOT, free_port, gunicorn, server_env
from webapp.extensions import db
from webapp.models import (
    AuditEvent,
    Decision,
    HumanTask,
    OutboxMessage,
    ProcessInstance,
)


def task_of(instance: ProcessInstance) -> HumanTask:
    return db.session.scalar(sa.select(HumanTask).where(HumanTask.instance_id == instance.id,
                                                        HumanTask.status == "open"))


def test_kill_9_in_the_middle_of_a_completion_leaves_all_or_nothing(app, world, pg_url, tmp_path, runner):
    instance = start_copying(world)
    task = task_of(instance)
    version_before = instance.lock_version
    marker = tmp_path / "paused"
    with gunicorn(pg_url, tmp_path, workers=1, threads=2, SHODAKU_TEST_PAUSES='{"before_commit": 60}',
                  SHODAKU_TEST_PAUSE_MARKER=str(marker)) as base:
        browser = Browser(base)
        browser.login("tanaka")
        token = browser.token(f"/tasks/{task.id}")
        outcome: dict[str, object] = {}

        def submit() -> None:
            try:
                outcome["response"] = browser.request("POST", f"/tasks/{task.id}",
                                                      {"decision": "approve", "csrf_token": token},
                                                      headers={"X-Test-Pause": "1"}, timeout=90)
            except OSError as err:
                outcome["error"] = err

        thread = threading.Thread(target=submit)
        thread.start()
        deadline = time.monotonic() + 30
        while not marker.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert marker.exists(), "the completion never reached the pause"
        # The engine ran, the inbox row, decision and audit event were flushed but not committed: kill.
        os.kill(int(marker.read_text()), signal.SIGKILL)
        thread.join(timeout=60)
        assert "error" in outcome or outcome["response"][0] >= 500

        db.session.expire_all()
        assert task_of(instance) is not None  # still open
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Decision)) == 0
        assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)
                                 .where(AuditEvent.action == "task_completed")) == 0
        assert db.session.get(ProcessInstance, instance.id).lock_version == version_before
        assert runner.invoke(args=["check"]).exit_code == 0
        # gunicorn replaced the worker: the same person completes the task normally.
        from tests.ops.conftest import wait_healthy

        wait_healthy(base)
        browser = Browser(base)
        browser.login("tanaka")
        status, _ = browser.post_form(f"/tasks/{task.id}", {"decision": "approve"})
        assert status == 302
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Decision)) == 1
    assert runner.invoke(args=["check"]).exit_code == 0


class Sink:
    def __init__(self) -> None:
        self.ids: list[str] = []

    async def handle_DATA(self, server, session, envelope):
        self.ids.append(email.message_from_bytes(envelope.content, policy=email.policy.default)["Message-ID"])
        return "250 OK"


def test_two_worker_processes_never_send_the_same_mail_twice(app, world, pg_url, tmp_path):
    for n in range(15):
        start_copying(world, f"参照{n}")  # each queues a mail to the approver
    queued = db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage))
    assert queued == 15
    sink, port = Sink(), free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    env = server_env(pg_url, tmp_path, SHODAKU_SMTP_PORT=str(port))
    workers = [subprocess.Popen([str(BIN / "python"), "-m", "webapp.cli", "worker", "--interval", "0.1"], cwd=ROOT,
                                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(2)]
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            db.session.expire_all()
            if db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)
                                 .where(OutboxMessage.sent_at.is_(None))) == 0:
                break
            time.sleep(0.2)
        time.sleep(1)  # let any duplicate arrive, if one were sent
    finally:
        for process in workers:
            process.send_signal(signal.SIGTERM)
        for process in workers:
            process.wait(timeout=20)
        controller.stop()
    assert len(sink.ids) == 15 and len(set(sink.ids)) == 15


class Proxy:
    """A TCP proxy to PostgreSQL that can be cut (connections refused and dropped) and restored."""

    def __init__(self, target_host: str, target_port: int):
        self.target = (target_host, target_port)
        self.port = free_port()
        self.up = True
        self.loop = asyncio.new_event_loop()
        self.connections: set[asyncio.StreamWriter] = set()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.ready = threading.Event()
        self.thread.start()
        self.ready.wait(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.server = self.loop.run_until_complete(asyncio.start_server(self._handle, "127.0.0.1", self.port))
        self.ready.set()
        self.loop.run_forever()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while self.up and (data := await reader.read(65536)):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self.up:
            writer.close()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self.connections |= {writer, up_writer}
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))

    def cut(self) -> None:
        self.up = False

        def drop() -> None:
            for writer in list(self.connections):
                writer.transport.abort()
            self.connections.clear()

        self.loop.call_soon_threadsafe(drop)

    def restore(self) -> None:
        self.up = True

    def close(self) -> None:
        self.cut()

        async def shutdown() -> None:
            self.server.close()
            await self.server.wait_closed()
            for task in [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]:
                task.cancel()

        asyncio.run_coroutine_threadsafe(shutdown(), self.loop).result(timeout=5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)
        self.loop.close()


def test_database_unreachable_for_ten_seconds_gives_503_then_recovers(app, world, pg_url, tmp_path):
    instance = start_copying(world)
    task = task_of(instance)
    url = make_url(pg_url)
    proxy = Proxy(url.host or "127.0.0.1", url.port or 5432)
    proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    try:
        with gunicorn(proxied, tmp_path, workers=1, threads=2) as base:
            browser = Browser(base)
            browser.login("tanaka")
            token = browser.token(f"/tasks/{task.id}")
            proxy.cut()
            started = time.monotonic()
            status, html = browser.request("GET", "/", timeout=30)
            assert status == 503 and ("データベース" in html or "database" in html)
            status, _ = browser.request("POST", f"/tasks/{task.id}", {"decision": "approve", "csrf_token": token},
                                        timeout=30)
            assert status == 503
            health, _ = browser.request("GET", "/healthz", timeout=30)
            assert health == 503
            time.sleep(max(0.0, 10 - (time.monotonic() - started)))
            proxy.restore()
            # The app reconnects by itself (pool pre-ping); nothing was lost or half-written.
            deadline = time.monotonic() + 20
            while browser.request("GET", "/healthz")[0] != 200 and time.monotonic() < deadline:
                time.sleep(0.2)
            assert browser.request("GET", "/")[0] == 200
            db.session.expire_all()
            assert task_of(instance) is not None
            status, _ = browser.post_form(f"/tasks/{task.id}", {"decision": "approve"})
            assert status == 302
    finally:
        proxy.close()
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Decision)) == 1


