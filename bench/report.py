"""The machine, the targets, the table, results.json."""
from __future__ import annotations

import json
import os
import platform
import sqlite3
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any


def uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, timeout=5).stdout.strip()
    except OSError:
        return "load average: " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


def git_state(repo: Path) -> dict[str, Any]:
    """Which code was measured: HEAD and the files changed in the working tree (others work in it too)."""
    def run(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, timeout=10).stdout.rstrip()
        except OSError:
            return ""

    return {"head": run("rev-parse", "--short", "HEAD").strip(),
            "changed": [line[3:] for line in run("status", "--porcelain").splitlines() if line[:2].strip()][:50]}


def machine(pg_version: str | None) -> dict[str, Any]:
    def version(dist: str) -> str | None:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return None

    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu_count": os.cpu_count(), "cpu_model": cpu, "load_average": [round(x, 2) for x in os.getloadavg()],
        "uptime": uptime(), "python": sys.version.split()[0], "platform": platform.platform(),
        "sqlite": sqlite3.sqlite_version, "postgresql": pg_version,
        "packages": {d: version(d) for d in ("SpiffWorkflow", "SQLAlchemy", "Flask", "psycopg", "gunicorn")},
        "git": git_state(Path(__file__).resolve().parent.parent),
    }


def _get(d: dict[str, Any], *path: str) -> Any:
    for p in path:
        if not isinstance(d, dict) or p not in d:
            return None
        d = d[p]
    return d


def floor_for(r: dict[str, Any], figure: str) -> float | None:
    """The floor a figure is judged against: the floor runs taken between its own samples when it
    has them (the machine's speed drifts over a run: ratios compare like with like), else the
    floor block measured first."""
    return _get(r, figure, "floor_between_ms", "median") or _get(r, "engine_floor_ms", "median")


def ratios(r: dict[str, Any]) -> dict[str, float]:
    out = {}
    for name, figure, value in (("complete_over_floor", "complete_ms", _get(r, "complete_ms", "median")),
                                ("start_over_floor", "start_ms", _get(r, "start_ms", "median")),
                                ("sweep_per_task_over_floor", "sweep", _get(r, "sweep", "per_task_total_ms"))):
        floor = floor_for(r, figure)
        if value is not None and floor:
            out[name] = round(value / floor, 2)
    return out


def targets(r: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target with the figure it is judged on and whether it was met."""
    out = []

    def add(name: str, value: Any, limit: Any, ok: bool | None) -> None:
        out.append({"target": name, "value": value, "limit": limit, "met": ok})

    c_med, c_p95 = _get(r, "complete_ms", "median"), _get(r, "complete_ms", "p95")
    floor = floor_for(r, "complete_ms")
    if c_med is not None and floor:
        add(f"complete_ms median <= 3 x engine_floor_ms ({r['backend']})", c_med, round(3 * floor, 3), c_med <= 3 * floor)
    if c_p95 is not None:
        add(f"complete_ms p95 < 15 ms ({r['backend']})", c_p95, 15, c_p95 < 15)
    for who in ("approver", "admin"):
        p95 = _get(r, "inbox_ms", who, "p95")
        if p95 is not None:
            add(f"inbox_ms p95 < 50 ms, {who} ({_get(r, 'inbox_ms', who, 'visible_open_tasks')} visible)", p95, 50,
                p95 < 50)
    per = _get(r, "sweep", "per_task_total_ms")
    floor = floor_for(r, "sweep")
    if per is not None and floor:
        add("sweep per escalated task <= 3 x engine_floor_ms", per, round(3 * floor, 3), per <= 3 * floor)
    nd = _get(r, "nothing_due_ms", "run_once", "p95")
    if nd is not None:
        add("nothing due (worker.run_once p95) < 10 ms", nd, 10, nd < 10)
    tp = _get(r, "throughput", "approvals_per_s")
    if tp is not None:
        add("throughput >= 200 approvals/s (PostgreSQL, 4 clients)", tp, 200, tp >= 200)
    return out


def table(r: dict[str, Any]) -> str:
    lines = []

    def row(name: str, d: dict[str, Any] | None, how: str, unit: str = "ms") -> None:
        if not d or "median" not in d:
            return
        lines.append(f"  {name:<30} {d['median']:>9.2f} {d['p95']:>9.2f} {unit:<4} n={d['n']:<5} load={d['load1']:<5} {how}")

    lines.append(f"Shodaku bench — {r['size']} ({r['backend']}), {r['dataset']['open_tasks']:,} open tasks, "
                 f"{r['dataset']['audit_events']:,} audit events, {r['dataset']['users']:,} users, "
                 f"{r['dataset']['contracts']} contracts")
    lines.append(f"  machine: {r['machine']['cpu_count']} CPUs, Python {r['machine']['python']}, SQLite "
                 f"{r['machine']['sqlite']}, PostgreSQL {r['machine']['postgresql']}")
    lines.append(f"  {r['machine']['uptime']}")
    lines.append(f"  generation: {r['generation']['phases']['total_s']} s  ({r['generation']['phases']})")
    lines.append(f"  {'figure':<30} {'median':>9} {'p95':>9}")
    row("engine_floor_ms", r.get("engine_floor_ms"), "SpiffWorkflow only, no DB/web")
    row("complete_ms", r.get("complete_ms"), "test client POST /tasks/<id>")
    row("start_ms", r.get("start_ms"), "test client POST /requests/new/...")
    row("inbox_ms approver", _get(r, "inbox_ms", "approver"),
        f"GET / ({_get(r, 'inbox_ms', 'approver', 'visible_open_tasks')} visible)")
    row("inbox_ms admin", _get(r, "inbox_ms", "admin"),
        f"GET /?scope=all ({_get(r, 'inbox_ms', 'admin', 'visible_open_tasks')} visible)")
    row("records_ms approver", _get(r, "records_ms", "approver"), "GET /records/ (no target)")
    row("records_ms admin", _get(r, "records_ms", "admin"),
        f"GET /records/ ({_get(r, 'records_ms', 'requests')} requests; no target)")
    row("nothing_due run_once", _get(r, "nothing_due_ms", "run_once"), "worker.run_once(), nothing due")
    row("nothing_due fire_due_timers", _get(r, "nothing_due_ms", "fire_due_timers"), "timer query + commit")
    s = r.get("sweep")
    if s:
        lines.append(f"  {'sweep_s':<30} {s['total_s']:>9.2f} s for {s['tasks_escalated']:,} escalations: "
                     f"{s['per_task_total_ms']:.2f} ms/task ({s['per_task_ms']:.2f} in fire_timers_of), "
                     f"load={s['load1']}")
    tp = r.get("throughput")
    if tp and "approvals_per_s" in tp:
        lines.append(f"  {'throughput':<30} {tp['approvals_per_s']:>9.1f} approvals/s  {tp['server']}, "
                     f"{tp['clients']} clients, {tp['seconds']} s, latency median {tp['latency_ms'].get('median')} ms "
                     f"p95 {tp['latency_ms'].get('p95')} ms, errors={tp['errors']}, load={tp['load1_after']}")
        cpu = tp.get("cpu_ms_per_approval")
        if cpu:
            lines.append(f"  {'  CPU per approval':<30} " + ", ".join(f"{k} {v} ms" for k, v in cpu.items())
                         + f" (all CPUs {tp['cpu_busy']:.0%} busy)")
        sessions = tp.get("database_sessions") or {}
        if sessions.get("mean_sessions"):
            waits = "; ".join(f"{v} on {k}" for k, v in sessions.get("lock_waits_by_statement", {}).items())
            lines.append(f"  {'  database sessions (mean)':<30} "
                         + ", ".join(f"{v} {k}" for k, v in sessions["mean_sessions"].items())
                         + (f" [lock waits: {waits}]" if waits else ""))
    elif tp:
        lines.append(f"  throughput: {tp}")
    ns = r.get("sqlite_without_statistics")
    if ns:
        lines.append("  SQLite before the worker's first daily ANALYZE:")
        for name in ("complete_ms", "start_ms"):
            floor, value = floor_for(ns, name), _get(ns, name, "median")
            row(f"  {name}", ns.get(name), f"{value / floor:.2f} x the floor between its samples ({floor} ms)"
                if value and floor else "")
        row("  inbox_ms approver", _get(ns, "inbox_ms", "approver"), "")
        row("  inbox_ms admin", _get(ns, "inbox_ms", "admin"), "")
        sample = ns.get("sweep_sample") or {}
        lines.append(f"    {'sweep per task':<28} {sample.get('per_task_ms')} ms over {sample.get('instances_advanced')} "
                     f"escalations, load={sample.get('load1')}")
    if r.get("ratios"):
        between = ", ".join(f"{name} {_get(r, key, 'floor_between_ms', 'median')}"
                            for name, key in (("complete", "complete_ms"), ("start", "start_ms"), ("sweep", "sweep"))
                            if _get(r, key, "floor_between_ms"))
        lines.append(f"  ratios: complete/floor = {r['ratios'].get('complete_over_floor')}, "
                     f"start/floor = {r['ratios'].get('start_over_floor')}, "
                     f"sweep/floor = {r['ratios'].get('sweep_per_task_over_floor')}"
                     + (f" (floor runs between the samples: {between} ms)" if between else ""))
    lines.append("  targets:")
    for t in r.get("targets", []):
        mark = "MET " if t["met"] else "MISS"
        lines.append(f"    [{mark}] {t['target']}: {t['value']} (limit {t['limit']})")
    return "\n".join(lines)


def write(path: Path, results: dict[str, Any]) -> None:
    path.write_text(json.dumps(results, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
