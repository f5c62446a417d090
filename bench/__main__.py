"""``make bench`` / ``python -m bench [--quick] [--db URL] ...``: see bench/README.md."""
from __future__ import annotations

import argparse
import gc
import logging
import os
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DEFAULT_PG = os.environ.get("SHODAKU_BENCH_PG", "postgresql://postgres@127.0.0.1:5432")


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("--quick", action="store_true", help="10,000 open tasks, 100,000 audit events, fewer repetitions")
    p.add_argument("--db", default="sqlite", help="'sqlite' (a file in a temp dir, default) or a PostgreSQL server URL "
                                                  "(a throwaway database is created there and dropped)")
    p.add_argument("--pg", default=DEFAULT_PG, help="PostgreSQL server for the throughput run (default %(default)s)")
    p.add_argument("--processes", default=os.environ.get("SHODAKU_BENCH_PROCESSES", ""),
                   help="comma-separated process keys to deploy (default: every processes/*.bpmn that deploys)")
    p.add_argument("--reps", type=int, default=None, help="repetitions per per-request figure (default 300; quick 60)")
    p.add_argument("--duration", type=float, default=None, help="throughput seconds (default 30; quick 10)")
    p.add_argument("--workers", type=int, default=None,
                   help="gunicorn workers (default: deploy/gunicorn.conf.py's, as production runs it)")
    p.add_argument("--worker-class", default="sync", help="gunicorn worker class (default %(default)s)")
    p.add_argument("--threads", type=int, default=1, help="gunicorn threads per worker (default %(default)s)")
    p.add_argument("--clients", type=int, default=4, help="concurrent clients in the throughput run (default %(default)s)")
    p.add_argument("--skip", default="",
                   help="comma-separated: floor,nostats,inbox,records,worker,complete,start,sweep,throughput")
    p.add_argument("--verify-audit", action=argparse.BooleanOptionalAction, default=True,
                   help="walk the whole audit chain with webapp.audit.verify() after generating (default on)")
    p.add_argument("--keep", action="store_true", help="keep the temp dir and databases (prints where)")
    p.add_argument("--out", default=None, help="default bench/results.json (the README's run), with --quick "
                                               "bench/results-quick.json")
    p.add_argument("--workdir", default=None, help="where the SQLite files go (default: a new temp dir)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    args.out = args.out or str(REPO / "bench" / ("results-quick.json" if args.quick else "results.json"))
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    from webapp.testing import FakeClock, pg_create, pg_drop, pg_reachable

    from . import generate, measure, report, templates, throughput
    from .appctx import NOW, make_app, migrate, pg_version

    sizes = generate.QUICK if args.quick else generate.FULL
    reps = args.reps or (60 if args.quick else 300)
    warmup = 10
    duration = args.duration or (10.0 if args.quick else 30.0)
    skip = {s for s in args.skip.split(",") if s}
    only = {s for s in args.processes.split(",") if s} or None
    workdir = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="shodaku-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    made_pg: list[str] = []
    started = time.perf_counter()
    backend = "sqlite" if args.db == "sqlite" else "postgresql"
    results: dict[str, Any] = {"size": "quick" if args.quick else "full", "backend": backend, "now": NOW.isoformat(),
                               "statistics": "PostgreSQL: VACUUM ANALYZE after generation (as autovacuum would). "
                                             "SQLite: sqlite_without_statistics is measured first, as a database is "
                                             "before the worker's first daily pass; then that pass's ANALYZE "
                                             "(webapp.jobs.refresh_statistics), then every other figure",
                               "method": {"per_request": "Flask test client, one app context per request (bench.appctx."
                                                        "Client); throughput: gunicorn over loopback HTTP",
                                          "reps": reps, "warmup": warmup,
                                          "argon2": "generated users share one cheap argon2id hash (time_cost=1, "
                                                    "memory_cost=1024, the tests' parameters)"}}

    def say(msg: str) -> None:
        print(f"[{time.perf_counter() - started:7.1f}s load {os.getloadavg()[0]:.2f}] {msg}", flush=True)

    pg_problem = pg_reachable(args.pg)
    results["machine"] = report.machine(pg_version(args.pg) if pg_problem is None else None)
    try:
        say(f"templates: scratch world in {workdir}")
        t = time.perf_counter()
        tpls, notes = templates.build(workdir, only)
        results["templates"] = {**notes, "build_s": round(time.perf_counter() - t, 2)}
        say(f"templates: {', '.join(x.name for x in tpls)}; deploy failures: {notes['deploy_failed'] or 'none'}")

        def make_dataset(kind: str) -> tuple[Any, Any, str, Any, dict[str, Any]]:
            clock = FakeClock(NOW)
            if kind == "sqlite":
                path = workdir / ("bench.sqlite3")
                path.unlink(missing_ok=True)
                uri = f"sqlite:///{path}"
            else:
                uri = pg_create(args.pg if args.db == "sqlite" else args.db, "shodaku_bench")
                made_pg.append(uri)
            app = make_app(uri, workdir / f"files-{kind}", clock)
            with app.app_context():
                migrate(app)
            say(f"generating {sizes.open_tasks:,} open tasks, {sizes.audit_events:,} audit events in {kind}")
            world, info = generate.generate(app, clock, tpls, sizes, only)
            say(f"generated in {info['phases']['total_s']} s: {info['phases']}")
            return app, clock, uri, world, info

        app, clock, uri, world, info = make_dataset(backend)
        results["generation"] = {k: v for k, v in info.items() if k not in ("clones",)}
        results["generation"]["clones"] = {k: v for k, v in info["clones"].items() if k != "sequences"}
        results["dataset"] = {"open_tasks": info["clones"]["open_tasks"], "audit_events": info["audit"]["total"],
                              "users": world.counts["users"], "contracts": world.counts["contracts"],
                              "overdue_open_at_now": info["clones"]["overdue_open"],
                              "instances": info["clones"]["instances"], "state_mb": info["clones"]["state_mb"],
                              "by_group": info["clones"]["by_group"], "by_process": info["clones"]["by_process"]}
        results["checks"] = self_check(app, info, args.verify_audit)
        say(f"self-check: {results['checks']}")
        # A server process holds the app, not the generator's millions of rows: frozen out of
        # the collector's scans, as webapp.wsgi freezes what start-up made.
        gc.collect()
        gc.freeze()

        floor = measure.Floor(app, world)
        if "floor" not in skip:
            results["engine_floor_ms"] = measure.engine_floor(floor, reps)
            say(f"engine_floor_ms {results['engine_floor_ms']['median']} / {results['engine_floor_ms']['p95']}")
        if backend == "sqlite" and "nostats" not in skip:
            nreps = max(20, reps // 10)
            ns: dict[str, Any] = {"reps": nreps}
            say("SQLite without statistics (before the worker's first daily ANALYZE)")
            ns["inbox_ms"] = measure.inbox(app, world, nreps, 3)
            # With floor runs between the samples, as later: the machine's speed drifts, and the
            # ratio says whether a figure moved or the machine did.
            ns["complete_ms"] = measure.complete(app, world, nreps, 3, floor)
            ns["start_ms"] = measure.start(app, world, nreps, 3, floor)
            ns["sweep_sample"] = measure.sweep_sample(app, clock, sizes.sweep_sample)
            with app.app_context():
                from webapp.extensions import db

                t = time.perf_counter()
                generate.analyze(db.engine, sqlite_too=True)
                ns["analyze_s"] = round(time.perf_counter() - t, 2)
            results["sqlite_without_statistics"] = ns
            say("without statistics: inbox " + ", ".join(f"{k} {v['median']}" for k, v in ns["inbox_ms"].items())
                + f"; complete {ns['complete_ms']['median']}; start {ns['start_ms']['median']}; sweep "
                f"{ns['sweep_sample']['per_task_ms']} ms/task; then ANALYZE ({ns['analyze_s']} s)")
        elif backend == "sqlite":
            with app.app_context():
                from webapp.extensions import db

                generate.analyze(db.engine, sqlite_too=True)
        if "inbox" not in skip:
            results["inbox_ms"] = measure.inbox(app, world, reps, warmup)
            say("inbox_ms " + ", ".join(f"{k} {v['median']} / {v['p95']}" for k, v in results["inbox_ms"].items()))
        if "records" not in skip:
            results["records_ms"] = measure.records(app, world, reps, warmup)
            say("records_ms " + ", ".join(f"{k} {v['median']} / {v['p95']}" for k, v in results["records_ms"].items()
                                          if isinstance(v, dict)))
        if "worker" not in skip:
            results["nothing_due_ms"] = measure.nothing_due(app, clock, reps)
            say(f"nothing_due_ms {results['nothing_due_ms']['run_once']['median']} / "
                f"{results['nothing_due_ms']['run_once']['p95']}")
        if "complete" not in skip:
            results["complete_ms"] = measure.complete(app, world, reps, warmup, floor)
            say(f"complete_ms {results['complete_ms']['median']} / {results['complete_ms']['p95']}")
        if "start" not in skip:
            results["start_ms"] = measure.start(app, world, reps, warmup, floor)
            say(f"start_ms {results['start_ms']['median']} / {results['start_ms']['p95']}")
        if "sweep" not in skip:
            say(f"sweep: {sizes.sweep:,} escalations due")
            results["sweep"] = measure.sweep(app, clock, world, sizes.sweep, floor)
            say(f"sweep {results['sweep']['total_s']} s, {results['sweep']['per_task_total_ms']} ms/task")
        with app.app_context():
            from webapp.extensions import db

            db.session.remove()
            db.engine.dispose()

        if "throughput" not in skip:
            if backend == "postgresql":
                tp_uri, tp_world = uri, world
            elif pg_problem is not None:
                tp_uri = None
                results["throughput"] = {"skipped": f"PostgreSQL unreachable at {args.pg}: {pg_problem}"}
                say(results["throughput"]["skipped"])
            else:
                tp_app, _, tp_uri, tp_world, tp_info = make_dataset("postgresql")
                results["throughput_generation"] = {"phases": tp_info["phases"],
                                                    "open_tasks": tp_info["clones"]["open_tasks"],
                                                    "audit_events": tp_info["audit"]["total"]}
                with tp_app.app_context():
                    from webapp.extensions import db

                    db.engine.dispose()
            if tp_uri:
                say(f"throughput: gunicorn {args.worker_class} x{args.workers or 'default'}, {args.clients} clients, "
                    f"{duration} s")
                results["throughput"] = throughput.run(
                    REPO, tp_uri.replace("postgresql+psycopg://", "postgresql://"), workdir, tp_world.tp_approvers,
                    tp_world.tp_tasks, clients=args.clients, duration=duration, workers=args.workers,
                    worker_class=args.worker_class, threads=args.threads)
                say(f"throughput {results['throughput']['approvals_per_s']} approvals/s")
    finally:
        if not args.keep:
            for u in made_pg:
                try:
                    pg_drop(u)
                except Exception as err:  # noqa: BLE001
                    print(f"could not drop {u}: {err}", file=sys.stderr)
            if not args.workdir:
                shutil.rmtree(workdir, ignore_errors=True)
        else:
            print(f"kept: {workdir} {made_pg}")

    results["ratios"] = report.ratios(results)
    results["targets"] = report.targets(results)
    results["machine"]["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    results["machine"]["uptime_end"] = report.uptime()
    results["elapsed_s"] = round(time.perf_counter() - started, 1)
    report.write(Path(args.out), results)
    print()
    print(report.table(results))
    print(f"\nwrote {args.out} ({results['elapsed_s']} s)")
    return 0


def self_check(app, info: dict[str, Any], verify_audit: bool) -> dict[str, Any]:
    """One clone of every template must agree with its inbox rows and timer (``shodaku check``)."""
    from webapp import audit, engine
    from webapp.extensions import db
    from webapp.models import ProcessInstance

    out: dict[str, Any] = {}
    with app.app_context():
        problems = []
        for name, iid in info["clones"]["samples"].items():
            problems += [f"{name}: {m}" for m in engine.check_instance(db.session.get(ProcessInstance, iid))]
        out["consistency"] = problems or "ok"
        if verify_audit:
            t = time.perf_counter()
            checked, broken = audit.verify()
            out["audit_chain"] = {"checked": checked, "broken": str(broken) if broken else None,
                                  "seconds": round(time.perf_counter() - t, 1)}
        db.session.remove()
    return out


if __name__ == "__main__":
    raise SystemExit(main())
