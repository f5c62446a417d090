"""The shodaku commands people run by hand: create-user, demo, deploy, lint."""
from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from webapp.extensions import db
from webapp.models import ProcessDefinition, ProcessInstance, RoleGrant, User


def test_create_user_with_scoped_roles_then_log_in(runner, client):
    result = runner.invoke(args=["create-user", "mori", "--name", "森 恵子", "--email", "mori@example.jp",
                                 "--password", "Kisarazu-2027-a", "--org", "D-KAIGO",
                                 "--role", "city_approver@dept:D-KAIGO", "--role", "auditor"])
    assert result.exit_code == 0, result.output
    user = db.session.scalar(sa.select(User).where(User.username == "mori"))
    grants = {(g.role, g.scope) for g in db.session.scalars(sa.select(RoleGrant).where(RoleGrant.user_id == user.id))}
    assert grants == {("city_approver", "department"), ("auditor", "global")}
    assert client.login("mori", "Kisarazu-2027-a").status_code == 302


def test_create_user_refuses_with_a_reason(runner):
    cases = [
        (["tanaka", "--name", "x", "--password", "Kisarazu-2027-a"], "already exists"),
        (["newbie", "--name", "x", "--password", "short"], "10文字以上"),  # the CLI speaks the default language
        (["newbie", "--name", "x", "--password", "Kisarazu-2027-a", "--role", "emperor"], "unknown role"),
        (["newbie", "--name", "x", "--password", "Kisarazu-2027-a", "--role", "contractor_staff"], "contract"),
        (["newbie", "--name", "x", "--password", "Kisarazu-2027-a", "--role", "city_approver@dept:NOPE"], "NOPE"),
    ]
    for args, reason in cases:
        result = runner.invoke(args=["create-user", *args])
        assert result.exit_code != 0 and reason in result.output, (args, result.output)
    assert db.session.scalar(sa.select(User).where(User.username == "newbie")) is None


def test_demo_loads_once_however_often_it_runs(runner):
    first = runner.invoke(args=["demo"])
    assert first.exit_code == 0, first.output
    assert "kobayashi" in first.output and "shodaku-demo-2026" in first.output
    counts = [db.session.scalar(sa.select(sa.func.count()).select_from(m)) for m in (User, ProcessInstance,
                                                                                      ProcessDefinition)]
    assert counts[1] >= 5  # sample requests of every flow
    assert runner.invoke(args=["demo"]).exit_code == 0
    assert [db.session.scalar(sa.select(sa.func.count()).select_from(m))
            for m in (User, ProcessInstance, ProcessDefinition)] == counts
    keys = set(db.session.scalars(sa.select(ProcessInstance.process_key)))
    assert keys == {"copying_consent", "device_connection", "production_migration", "subcontracting",
                    "incident_response"}


def test_every_shipped_diagram_lints_and_deploys_unchanged(app, runner):
    shipped = sorted(str(p) for p in (Path(app.config["PROCESSES_DIR"])).glob("*.bpmn"))
    lint = runner.invoke(args=["lint", *shipped])
    assert lint.exit_code == 0 and f"{len(shipped)} file(s) OK" in lint.output
    deploy = runner.invoke(args=["deploy", "--shipped"])
    assert deploy.exit_code == 0 and deploy.output.count("unchanged") == len(shipped)


def test_lint_reports_one_line_per_problem_and_fails(app, runner, tmp_path):
    broken = tmp_path / "broken.bpmn"
    text = (Path(app.config["PROCESSES_DIR"]) / "copying_consent.bpmn").read_text(encoding="utf-8")
    broken.write_text(text.replace('value="3bd"', 'value="soon"').replace('id="remind"', 'id="no_such_handler"'),
                      encoding="utf-8")
    result = runner.invoke(args=["lint", str(broken)])
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.startswith(str(broken))]
    assert len(lines) >= 2 and any("approve" in line for line in lines)
