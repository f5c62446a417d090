"""``python -m bench.instructions``: instructions per approval and per filing, against the engine floor.

Milliseconds on a shared virtual machine drift by tens of percent within minutes; the number
of instructions the processor executes for the same request does not. This counts them with
valgrind's callgrind (``valgrind`` must be installed; Debian: ``apt-get install valgrind``)
on a quick data set (10,000 open tasks), for the three figures the ratio target compares:

* ``floor``: the engine floor of ``make bench`` (:class:`bench.measure.Floor`);
* ``complete``: an approver's ``POST /tasks/<id>``, as ``make bench`` sends it;
* ``start``: a contractor's ``POST /requests/new/copying_consent/<contract>``.

Each runs in its own process under callgrind, which counts only inside the measured calls
(``--toggle-collect=_operator_call``: they are made through :func:`operator.call`), after
untimed warm-up requests. After each request the client puts back the session cookie it sent,
which is what the page a browser loads next (:func:`bench.measure.shown`) leaves behind once it
has shown the confirmation; that page is not loaded, so it is not counted. Instructions are not time: a request touches far more memory than the floor's
tight loop, so each of its instructions costs more (see the README's benchmark section).
"""
from __future__ import annotations

import argparse
import logging
import operator
import os
import pickle
import re
import shutil
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any

FIGURES = ("floor", "complete", "start")
WARMUP = 10


def _child(figure: str, workdir: Path, reps: int) -> None:
    """Under callgrind: warm up, then make ``reps`` requests (or floor runs) through operator.call."""
    from webapp.testing import FakeClock

    from . import measure
    from .appctx import NOW, make_app

    run = workdir / f"run-{figure}"
    shutil.rmtree(run, ignore_errors=True)
    run.mkdir()
    shutil.copy(workdir / "bench.sqlite3", run / "bench.sqlite3")
    world = pickle.loads((workdir / "world.pickle").read_bytes())
    app = make_app(f"sqlite:///{run / 'bench.sqlite3'}", run / "files", FakeClock(NOW))
    if figure == "floor":
        floor = measure.Floor(app, world)
        for _ in range(WARMUP):
            floor.run()
        operator.call(lambda: [floor.run() for _ in range(reps)])
        floor.check()
        return
    class Client(app.test_client_class):  # type: ignore[name-defined]
        """Remembers the session it sent with each POST, to put it back afterwards."""

        def post(self, *args: Any, **kwargs: Any) -> Any:
            self.sent_session = self.get_cookie("session").value
            return super().post(*args, **kwargs)

    app.test_client_class = Client

    def after(client: Any, response: Any) -> None:
        client.set_cookie("session", client.sent_session)

    action = measure.complete if figure == "complete" else measure.start
    action(app, world, WARMUP, 0, after=after)
    operator.call(action, app, world, reps, 0, after=after)


def _count(figure: str, workdir: Path, reps: int, cache_sim: bool) -> dict[str, int]:
    """Instructions per request, and with ``cache_sim`` the simulated first- and last-level cache
    misses per request (instructions and data): how much a request reaches beyond the caches."""
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        raise SystemExit("valgrind is not installed (Debian: apt-get install valgrind)")
    result = subprocess.run(
        [valgrind, "--tool=callgrind", "--collect-atstart=no", "--toggle-collect=_operator_call",
         f"--cache-sim={'yes' if cache_sim else 'no'}", f"--callgrind-out-file={workdir / f'callgrind.{figure}'}",
         sys.executable, "-m", "bench.instructions", "--child", figure, "--workdir", str(workdir), "--reps", str(reps)],
        capture_output=True, text=True, env={**os.environ, "PYTHONHASHSEED": "0"}, cwd=Path(__file__).parent.parent)
    found = re.search(r"Collected : ([\d ]+)", result.stderr)
    if result.returncode != 0 or found is None:
        raise SystemExit(f"counting {figure} failed (exit {result.returncode}):\n{result.stderr[-3000:]}")
    # Events in callgrind's order: Ir, then with the cache simulation Dr Dw I1mr D1mr D1mw ILmr DLmr DLmw.
    events = [int(x) for x in found.group(1).split()]
    out = {"instructions": events[0] // reps}
    if cache_sim and len(events) >= 9:
        out["l1_misses"] = sum(events[3:6]) // reps
        out["ll_misses"] = sum(events[6:9]) // reps
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.instructions", description=__doc__.split("\n\n")[0])
    p.add_argument("--reps", type=int, default=30, help="counted requests per figure (default %(default)s)")
    p.add_argument("--cache-sim", action="store_true",
                   help="also simulate the caches and report their misses per request (about twice as slow)")
    p.add_argument("--child", choices=FIGURES, help=argparse.SUPPRESS)
    p.add_argument("--workdir", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    if args.child:
        _child(args.child, Path(args.workdir), args.reps)
        return 0

    from webapp.testing import FakeClock

    from . import generate, templates
    from .appctx import NOW, make_app, migrate

    workdir = Path(tempfile.mkdtemp(prefix="shodaku-instructions-"))
    try:
        print("building the quick data set…", flush=True)
        tpls, _ = templates.build(workdir, None)
        clock = FakeClock(NOW)
        app = make_app(f"sqlite:///{workdir / 'bench.sqlite3'}", workdir / "files", clock)
        with app.app_context():
            migrate(app)
        world, _ = generate.generate(app, clock, tpls, generate.QUICK, None)
        with app.app_context():
            from webapp.extensions import db

            generate.analyze(db.engine, sqlite_too=True)
            db.engine.dispose()
        (workdir / "world.pickle").write_bytes(pickle.dumps(world))
        counts = {}
        for figure in FIGURES:
            print(f"counting {figure} ({args.reps} under callgrind)…", flush=True)
            counts[figure] = _count(figure, workdir, args.reps, args.cache_sim)
        floor = counts["floor"]
        for figure in FIGURES:
            got = counts[figure]
            line = f"  {figure:<10} {got['instructions'] / 1e6:8.2f} M instructions"
            if figure != "floor":
                line += f" ({got['instructions'] / floor['instructions']:.2f} × floor)"
            for key, name in (("l1_misses", "first-level"), ("ll_misses", "last-level")):
                if key in got:
                    line += f", {got[key]:,} {name} cache misses"
                    if figure != "floor":
                        line += f" ({got[key] / max(1, floor[key]):.1f} ×)"
            print(line)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
