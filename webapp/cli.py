"""The ``shodaku`` command (a Flask group): ``shodaku run``, ``shodaku db upgrade`` and ours below.

Each command is one job: it commits once at its end, or not at all.
"""
from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup

from . import audit, engine, guardrails, processes
from .extensions import db


def _create_app():
    from . import create_app

    return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app)
def main() -> None:
    """Shodaku: written-consent workflows."""


def _user(username: str):
    from .security import user_by_username

    user = user_by_username(username)
    if user is None:
        raise click.ClickException(f"no user named {username!r}")
    return user


@click.command("create-user")
@click.argument("username")
@click.option("--name", "display_name", required=True, help="Display name (Japanese).")
@click.option("--email", default="")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--org", "org_code", default=None, help="Organization code.")
@click.option("--role", "roles", multiple=True,
              help="ROLE (global), ROLE@dept:CODE or ROLE@contract:NUMBER; repeatable.")
def create_user(username: str, display_name: str, email: str, password: str, org_code: str | None,
                roles: tuple[str, ...]) -> None:
    """Create a user with roles."""
    from . import accounts

    try:
        user = accounts.create_user(username, display_name, password, email=email, org_code=org_code, roles=roles)
    except accounts.AccountError as err:
        db.session.rollback()
        raise click.ClickException(str(err)) from None
    db.session.commit()
    click.echo(f"created user {user.username} (id {user.id})")


@click.command("create-token")
@click.argument("username")
@click.option("--name", default="cli", help="A label for the token.")
def create_token(username: str, name: str) -> None:
    """Create a personal access token for USERNAME and print it (only shown once)."""
    from .auth import tokens

    _row, token = tokens.create(_user(username), name)
    db.session.commit()
    click.echo(token)


@click.command("demo")
@click.option("--with-requests/--without-requests", default=True, help="Also start sample requests.")
def demo(with_requests: bool) -> None:
    """Load the demo city, contractors, contracts and users (idempotent)."""
    from . import demo as demo_data

    processes.deploy_shipped()
    accounts = demo_data.load(with_requests=with_requests)
    db.session.commit()
    click.echo("Demo accounts (password for all: %s):" % demo_data.DEMO_PASSWORD)
    for username, name, role in accounts:
        click.echo(f"  {username:<14} {name:<14} {role}")


@click.command("deploy")
@click.argument("files", nargs=-1, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--note", default="")
@click.option("--shipped", is_flag=True, help="Deploy every diagram in processes/.")
def deploy(files: tuple[Path, ...], note: str, shipped: bool) -> None:
    """Lint, then deploy diagrams as new versions (unchanged ones are left alone)."""
    targets = list(files) + (processes.shipped_diagrams() if shipped else [])
    if not targets:
        raise click.UsageError("name at least one FILE, or --shipped")
    forms = processes.load_forms()
    failed = False
    for path in targets:
        try:
            definition, created = engine.deploy(path.read_bytes(), forms, user=None, note=note or f"cli {path.name}",
                                                policy_check=guardrails.check)
        except engine.DiagramInvalid as err:
            failed = True
            for problem in err.problems:
                click.echo(f"{path}: {problem}", err=True)
            continue
        state = "deployed" if created else "unchanged"
        click.echo(f"{path}: {definition.key} v{definition.version} {state}")
    if failed:
        db.session.rollback()
        sys.exit(1)
    db.session.commit()


@click.command("lint")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
def lint(files: tuple[Path, ...]) -> None:
    """Check diagrams as deploy would; one line per problem; exit status 1 if any."""
    forms = processes.load_forms()
    count = 0
    for path in files:
        for problem in engine.validate(path.read_bytes(), forms, policy_check=guardrails.check).problems:
            click.echo(f"{path}: {problem}")
            count += 1
    db.session.rollback()
    if count:
        sys.exit(1)
    click.echo(f"{len(files)} file(s) OK")


@click.command("worker")
@click.option("--once", is_flag=True, help="Run one pass (for cron) and exit.")
@click.option("--interval", default=5.0, show_default=True, help="Seconds between passes.")
def worker(once: bool, interval: float) -> None:
    """Fire due timers and send queued mail."""
    from . import worker as worker_loop

    try:
        with worker_loop.sole_worker():
            if once:
                result = worker_loop.run_once()
                click.echo(" ".join(f"{k}={v}" for k, v in result.items()))
                return
            worker_loop.run_forever(current_app._get_current_object(), interval)
    except worker_loop.AnotherWorker as refused:
        raise click.ClickException(str(refused)) from None


@click.command("verify-audit")
def verify_audit() -> None:
    """Walk the audit hash chain; exit status 1 at the first broken link."""
    checked, broken = audit.verify()
    if broken is not None:
        click.echo(f"BROKEN at event {broken.seq}: {broken.reason} ({checked} events verified before it)")
        sys.exit(1)
    click.echo(f"audit chain intact: {checked} events")


@click.command("substitute")
@click.argument("absent")
@click.argument("substitute_username")
@click.option("--from", "starts", required=True, type=click.DateTime(formats=["%Y-%m-%d"]), help="First day (YYYY-MM-DD).")
@click.option("--until", "ends", required=True, type=click.DateTime(formats=["%Y-%m-%d"]), help="Last day (YYYY-MM-DD).")
def substitute(absent: str, substitute_username: str, starts, ends) -> None:
    """Let SUBSTITUTE act for ABSENT (代理承認) on the days given, inclusive."""
    from . import accounts

    try:
        row = accounts.add_substitute(_user(absent), _user(substitute_username), starts.date(), ends.date())
    except accounts.AccountError as err:
        raise click.ClickException(str(err)) from None
    db.session.commit()
    click.echo(f"{substitute_username} acts for {absent} from {row.starts_on} to {row.ends_on}")


@click.command("check")
def check() -> None:
    """Verify that every instance's inbox rows, timer and status agree with its workflow; exit 1 if not."""
    count = 0
    for mismatch in engine.check_all():
        click.echo(str(mismatch))
        count += 1
    if count:
        click.echo(f"{count} mismatch(es)")
        sys.exit(1)
    click.echo("all instances consistent")


def init_app(app: Flask) -> None:
    for command in (create_user, create_token, demo, deploy, lint, worker, verify_audit, check, substitute):
        app.cli.add_command(command)


__all__ = ["main"]


if __name__ == "__main__":
    main()
