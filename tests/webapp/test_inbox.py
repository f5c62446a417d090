"""The inbox: counts, filters, sorting, search, paging — and error pages people understand."""
from __future__ import annotations

import io
import re

import pytest
import sqlalchemy as sa

from tests.helpers import open_task, start_copying
from webapp import engine
from webapp.extensions import db
from webapp.models import TaskCandidate
from webapp.models.workflow import DONE


def references(html: str) -> list[str]:
    """References listed in the task table, in order (not the search box echoing the query)."""
    table = html.split("<tbody>")[1].split("</tbody>")[0] if "<tbody>" in html else ""
    return re.findall(r"CPY-2026-\d{5}", table)


def test_counts_sort_search_and_paging(app, client, world, clock):
    app.config["INBOX_PAGE_SIZE"] = 2
    first = start_copying(world, "課税資料の参照")
    clock.advance(days=1)
    second = start_copying(world, "設計書の参照")
    clock.advance(days=1)
    third = start_copying(world, "手順書の参照")
    client.login("tanaka")
    page = client.get("/").get_data(as_text=True)
    assert references(page) == [first.reference, second.reference]  # soonest due first, two per page
    assert "3" in page.split('class="counts"')[1].split("</ul>")[0]
    assert '<span class="count">3</span>' in page  # the menu's badge agrees
    assert references(client.get("/?page=2").get_data(as_text=True)) == [third.reference]
    assert references(client.get("/?sort=-age").get_data(as_text=True)) == [third.reference, second.reference]
    assert references(client.get("/?q=設計書").get_data(as_text=True)) == [second.reference]
    assert references(client.get(f"/?q={third.reference}").get_data(as_text=True)) == [third.reference]
    assert references(client.get("/?q=%25").get_data(as_text=True)) == []  # LIKE wildcards are literal
    assert references(client.get("/?process=nope").get_data(as_text=True)) == []
    assert client.get("/?page=999&sort=bogus&scope=all").status_code == 200


def summary(html: str) -> list[int]:
    """The open, overdue and due-today numbers above the task table."""
    return [int(n) for n in re.findall(r"<strong>(\d+)</strong>", html.split('class="counts"')[1].split("</ul>")[0])]


def test_the_summary_counts_overdue_and_due_today_by_tokyo_day(client, world, clock):
    """Due today ends at midnight in Tokyo, not UTC; a task without a deadline is open, neither overdue nor due."""
    from datetime import timedelta

    from webapp.models import HumanTask

    now = clock()  # 10:00 in Tokyo
    due = {"overdue": now - timedelta(minutes=1), "today": now + timedelta(hours=13, minutes=59),
           "tomorrow": now + timedelta(hours=14), "none": None, "later": now + timedelta(days=3)}
    for label, when in due.items():
        task = open_task(start_copying(world, label).id)
        task.due_at = when
    db.session.commit()
    client.login("tanaka")
    assert summary(client.get("/").get_data(as_text=True)) == [5, 1, 1]
    client.logout()
    client.login("yamamoto")  # the administrator sees them among all the city's open tasks
    assert summary(client.get("/?scope=all").get_data(as_text=True)) == [5, 1, 1]
    clock.advance(hours=14)  # midnight in Tokyo: yesterday's "today" is overdue, "tomorrow" is today
    assert summary(client.get("/?scope=all").get_data(as_text=True)) == [5, 2, 1]


def test_assigned_to_me_shows_the_requesters_correction(client, world):
    instance = start_copying(world)
    engine.complete(open_task(instance.id).id, {"decision": "send_back", "comment": "修正"}, world.users["tanaka"])
    db.session.commit()
    client.login("kobayashi")
    assert instance.reference in client.get("/?assigned=1").get_data(as_text=True)
    client.logout()
    client.login("sato")  # a colleague on the contract may also correct it, but it is not assigned to her
    assert instance.reference in client.get("/").get_data(as_text=True)
    assert instance.reference not in client.get("/?assigned=1").get_data(as_text=True)


def test_done_tasks_are_listed_with_their_status(client, world):
    instance = start_copying(world)
    engine.complete(open_task(instance.id).id, {"decision": "approve"}, world.users["tanaka"])
    db.session.commit()
    client.login("tanaka")
    assert instance.reference not in client.get("/").get_data(as_text=True)
    assert instance.reference in client.get("/?status=completed").get_data(as_text=True)


def test_a_person_added_to_a_task_finds_it_open_then_among_the_completed(client, world):
    instance = start_copying(world)
    task = open_task(instance.id)
    db.session.add(TaskCandidate(human_task_id=task.id, user_id=world.users["watanabe"].id, reason="escalation"))
    db.session.commit()
    client.login("watanabe")  # another department: only the personal addition gives her the task
    assert references(client.get("/").get_data(as_text=True)) == [instance.reference]
    engine.complete(task.id, {"decision": "approve"}, world.users["tanaka"])
    db.session.commit()
    assert references(client.get("/").get_data(as_text=True)) == []
    assert references(client.get("/?status=completed").get_data(as_text=True)) == [instance.reference]


def test_a_decision_without_files_is_one_transaction(client, world):
    """Only a new upload is committed ahead of the decision (so it survives a refusal)."""
    instance = start_copying(world)
    task = open_task(instance.id)
    client.login("tanaka")
    form = {"decision": "approve", **client.csrf_fields(f"/tasks/{task.id}")}
    commits: list[object] = []

    def count(session) -> None:
        commits.append(session)

    sa.event.listen(db.session, "after_commit", count)
    try:
        response = client.post(f"/tasks/{task.id}", data=form, content_type="multipart/form-data")
    finally:
        sa.event.remove(db.session, "after_commit", count)
    assert response.status_code == 302
    assert task.status == DONE and len(commits) == 1


def form_tag(html: str) -> str:
    return re.search(r'<form method="post"[^>]*class="schema-form"[^>]*>', html).group(0)


def test_forms_are_multipart_only_when_they_carry_files(app, client, world):
    """A browser posts the approval form url-encoded (lighter to send and to parse), and it is
    accepted; the request form, which takes attachments, stays multipart so files reach us."""
    instance = start_copying(world)
    task = open_task(instance.id)
    client.login("tanaka")
    page = client.get(f"/tasks/{task.id}").get_data(as_text=True)
    assert "enctype" not in form_tag(page)
    token = client.csrf_fields(f"/tasks/{task.id}")["csrf_token"]
    response = client.post(f"/tasks/{task.id}", data={"decision": "approve", "csrf_token": token},
                           content_type="application/x-www-form-urlencoded")
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(type(task), task.id).status == DONE
    contractor = app.test_client()
    contractor.login("kobayashi")
    request_page = contractor.get(f"/requests/new/copying_consent/{instance.contract_id}").get_data(as_text=True)
    assert 'enctype="multipart/form-data"' in form_tag(request_page)


@pytest.fixture
def app_config():
    return {"MAX_CONTENT_LENGTH": 64 * 1024}


def test_oversized_upload_gets_a_413_page_in_japanese(client, world):
    client.login("kobayashi")
    form = {"kind": "copy", "evidence": (io.BytesIO(b"%PDF-" + b"0" * 100_000), "big.pdf")}
    response = client.submit(f"/requests/new/copying_consent/{world.zei.id}", form)
    assert response.status_code == 413
    assert "<h1>" in response.get_data(as_text=True)


def test_unexpected_errors_get_a_500_page_and_roll_back(app, client, world, monkeypatch):
    app.config["RAISE_UNHANDLED"] = False

    def boom(*_args, **_kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr("webapp.inbox.queries.list_tasks", boom)
    client.login("tanaka")
    response = client.get("/")
    assert response.status_code == 500
    assert "disk on fire" not in response.get_data(as_text=True)
    json_response = client.get("/", headers={"Accept": "application/json"})
    assert json_response.status_code == 500 and json_response.json["error"] == "internal_error"


def test_unknown_pages_are_404_in_html_and_json(client):
    client.login("tanaka")
    assert client.get("/no/such/page").status_code == 404
    assert client.get("/api/v1/nope", headers={"Authorization": "Bearer x"}).json["error"] in ("unauthorized", "not_found")
