"""Approvals per second through gunicorn on PostgreSQL, with concurrent clients on loopback.

gunicorn runs from the venv as a subprocess exactly as production starts it
(``gunicorn -c deploy/gunicorn.conf.py webapp.wsgi:app``), configured only through the
environment (DATABASE_URL, SHODAKU_SECRET_KEY, SHODAKU_FILES_DIR, SHODAKU_BIND,
and SHODAKU_WEB_WORKERS only when the run asks for a number (otherwise the configuration's own
default, as production runs it)): the app's real clock, its JSON logs at INFO and gunicorn's JSON access
log, both to a file.
Each client is a thread with its own keep-alive connection and session: it logs in as its
own approver, then completes its own share of pre-generated approvals until the time is up.
"""
from __future__ import annotations

import http.client
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import psycopg

from webapp.testing import csrf_fields

from .appctx import PASSWORD
from .measure import stats


def _processes() -> Iterator[tuple[int, int, str, float]]:
    """(pid, parent pid, name, CPU seconds used so far) of every process, from ``/proc``."""
    tick = os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # exited meanwhile
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        yield int(entry.name), int(fields[1]), name, (int(fields[11]) + int(fields[12])) / tick


def cpu_seconds(server_pid: int) -> dict[str, float] | None:
    """CPU time (user + system) used so far by the web server (its master and workers), by the
    PostgreSQL server's processes and by this process (the clients), from ``/proc``; None where
    there is no ``/proc``. Where the CPU of an approval goes, beside how many there were."""
    if not Path("/proc").is_dir():
        return None
    totals = {"web": 0.0, "postgresql": 0.0, "clients": 0.0}
    for pid, ppid, name, used in _processes():
        if pid == server_pid or ppid == server_pid:
            totals["web"] += used
        elif name == "postgres":
            totals["postgresql"] += used
        elif pid == os.getpid():
            totals["clients"] += used
    return totals


def worker_pids(server_pid: int) -> list[int]:
    """The processes gunicorn's master has forked (its workers)."""
    return [pid for pid, ppid, _, _ in _processes() if ppid == server_pid] if Path("/proc").is_dir() else []


class SessionSampler:
    """What the bench database's sessions are doing while the clients run, sampled from
    ``pg_stat_activity`` every ``interval`` seconds on a connection of its own: how many, on
    average, wait on a lock (and on which statement), are inside a transaction while the web
    worker computes (``idle in transaction``), or run a statement. When the CPUs are not all
    busy, this says what the approvals wait for instead."""

    def __init__(self, db_url: str, interval: float = 0.02):
        self.db_url, self.interval = db_url, interval
        self.samples = 0
        self.states: Counter[str] = Counter()
        self.lock_waits: Counter[str] = Counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with psycopg.connect(self.db_url, autocommit=True) as conn:
            query = ("SELECT state, wait_event_type, left(query, 60) FROM pg_stat_activity "
                     "WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'")
            while not self._stop.wait(self.interval):
                for state, wait_type, text in conn.execute(query):
                    if wait_type == "Lock":
                        self.states["waiting on a lock"] += 1
                        self.lock_waits[" ".join(text.split())] += 1
                    elif state == "active":
                        self.states["running a statement"] += 1
                    elif state == "idle in transaction":
                        self.states["in a transaction, the app working"] += 1
                self.samples += 1

    def __enter__(self) -> SessionSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def summary(self) -> dict[str, Any]:
        n = max(1, self.samples)
        return {"samples": self.samples, "interval_s": self.interval,
                "mean_sessions": {k: round(v / n, 2) for k, v in self.states.most_common()},
                "lock_waits_by_statement": {k: round(v / n, 2) for k, v in self.lock_waits.most_common(3)}}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class HttpClient:
    """A minimal browser: one keep-alive connection, cookies, CSRF tokens."""

    def __init__(self, port: int):
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, form: dict[str, Any] | None = None, *,
                keep_cookies: bool = True) -> tuple[int, dict[str, str], str]:
        headers = {"User-Agent": "shodaku-bench"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urlencode(form, doseq=True)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        for attempt in range(2):
            try:
                self.conn.request(method, path, body=body, headers=headers)
                response = self.conn.getresponse()
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
                if attempt:
                    raise
        data = response.read().decode("utf-8", "replace")
        for header, value in response.getheaders() if keep_cookies else ():
            if header.lower() == "set-cookie":
                name, _, rest = value.partition("=")
                self.cookies[name.strip()] = rest.split(";", 1)[0]
        return response.status, {k.lower(): v for k, v in response.getheaders()}, data

    def csrf(self, path: str) -> str:
        status, _, html = self.request("GET", path)
        token = csrf_fields(html).get("csrf_token")
        if status != 200 or not token:
            raise RuntimeError(f"no CSRF token on {path} (HTTP {status})")
        return token

    def login(self, username: str) -> str:
        token = self.csrf("/auth/login")
        status, _, _ = self.request("POST", "/auth/login", {"username": username, "password": PASSWORD,
                                                            "csrf_token": token})
        if status != 302:
            raise RuntimeError(f"login {username}: HTTP {status}")
        return self.csrf("/auth/settings")


def start_gunicorn(repo: Path, db_url: str, workdir: Path, workers: int | None, worker_class: str, threads: int,
                   app_spec: str = "webapp.wsgi:app", extra_env: dict[str, str] | None = None
                   ) -> tuple[subprocess.Popen, int, Path]:
    port = free_port()
    log = workdir / "gunicorn.log"
    env = dict(os.environ)
    env.update({"DATABASE_URL": db_url, "SHODAKU_SECRET_KEY": secrets.token_hex(32),
                "SHODAKU_FILES_DIR": str(workdir / "gunicorn-files"), "SHODAKU_BIND": f"127.0.0.1:{port}",
                "SHODAKU_WEB_WORKER_CLASS": worker_class, "SHODAKU_WEB_THREADS": str(threads)})
    env.pop("SHODAKU_WEB_WORKERS", None)
    if workers is not None:
        env["SHODAKU_WEB_WORKERS"] = str(workers)
    env.update(extra_env or {})
    gunicorn = Path(sys.executable).parent / "gunicorn"
    cmd = [str(gunicorn), "-c", str(repo / "deploy" / "gunicorn.conf.py"), app_spec, "--chdir", str(repo)]
    out = open(log, "w")
    proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=str(repo), start_new_session=True)
    deadline = time.time() + 90
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {proc.returncode}; see {log}:\n{log.read_text()[-3000:]}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                conn.close()
                return proc, port, log
        except OSError:
            pass
        time.sleep(0.3)
    stop_gunicorn(proc)
    raise RuntimeError(f"gunicorn did not answer /healthz within 90 s; see {log}")


def stop_gunicorn(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)  # the master: it stops its own workers
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def run(repo: Path, db_url: str, workdir: Path, approvers: list[str], tasks: list[int], *, clients: int = 4,
        duration: float = 30.0, workers: int | None = None, worker_class: str = "sync", threads: int = 1,
        app_spec: str = "webapp.wsgi:app", extra_env: dict[str, str] | None = None) -> dict[str, Any]:
    proc, port, log = start_gunicorn(repo, db_url, workdir, workers, worker_class, threads, app_spec, extra_env)
    try:
        running = len(worker_pids(proc.pid)) or workers
        if not running:
            raise RuntimeError("cannot tell how many workers gunicorn started (no /proc): pass --workers N")
        shares = [tasks[i::clients] for i in range(clients)]
        sessions = []
        for i in range(clients):
            client = HttpClient(port)
            token = client.login(approvers[i % len(approvers)])
            sessions.append((client, token))
        # Warm every worker's parsed-spec cache and connection pool.
        warm = 3 * running
        for k in range(warm):
            client, token = sessions[k % clients]
            task_id = shares[k % clients].pop()
            status, _, _ = client.request("POST", f"/tasks/{task_id}", {"decision": "approve", "csrf_token": token},
                                          keep_cookies=False)
            if status != 302:
                raise RuntimeError(f"warm-up approval of task {task_id}: HTTP {status}")
        latencies: list[list[float]] = [[] for _ in range(clients)]
        errors: list[list[str]] = [[] for _ in range(clients)]
        exhausted = [False] * clients
        barrier = threading.Barrier(clients + 1)
        stop_at = [0.0]

        def worker(i: int) -> None:
            client, token = sessions[i]
            share = shares[i]
            barrier.wait()
            while time.perf_counter() < stop_at[0]:
                if not share:
                    exhausted[i] = True
                    return
                task_id = share.pop()
                t = time.perf_counter()
                try:
                    # The session the approval's response sets differs from the one sent only by
                    # its confirmation, which the next page a browser loads shows and removes:
                    # kept, every confirmation so far would ride in each later request's cookie.
                    status, headers, body = client.request("POST", f"/tasks/{task_id}",
                                                           {"decision": "approve", "csrf_token": token},
                                                           keep_cookies=False)
                except OSError as err:
                    errors[i].append(f"{task_id}: {err}")
                    continue
                dt = time.perf_counter() - t
                if status == 302:
                    latencies[i].append(dt)
                else:
                    errors[i].append(f"{task_id}: HTTP {status}")

        threads_ = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(clients)]
        for th in threads_:
            th.start()
        load_before = os.getloadavg()[0]
        stop_at[0] = time.perf_counter() + duration
        with SessionSampler(db_url) as sampler:
            cpu_before = cpu_seconds(proc.pid)
            t0 = time.perf_counter()
            barrier.wait()
            for th in threads_:
                th.join()
            elapsed = time.perf_counter() - t0
            cpu_after = cpu_seconds(proc.pid)
        done = sum(len(x) for x in latencies)
        all_errors = [e for x in errors for e in x]
        result = {
            "approvals_per_s": round(done / elapsed, 1), "approvals": done, "seconds": round(elapsed, 2),
            "errors": len(all_errors), "error_samples": all_errors[:5], "pool_exhausted": any(exhausted),
            "latency_ms": stats([x for xs in latencies for x in xs]),
            "server": f"gunicorn {worker_class} x{running}" + (f" ({threads} threads)" if threads > 1 else "")
                      + ("" if workers else " (the configuration's default)"),
            "workers": running,
            "clients": clients, "load1_before": round(load_before, 2), "load1_after": round(os.getloadavg()[0], 2),
            "log": str(log), "database_sessions": sampler.summary(),
        }
        if cpu_before and cpu_after and done:
            used = {k: cpu_after[k] - cpu_before[k] for k in cpu_after}
            result["cpu_ms_per_approval"] = {k: round(v / done * 1000, 2) for k, v in used.items()}
            result["cpu_busy"] = round(sum(used.values()) / (elapsed * (os.cpu_count() or 1)), 2)
    finally:
        stop_gunicorn(proc)
    return result
