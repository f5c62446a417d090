"""The records listing: newest first, who filed each request, and no workflow state read for it."""
from __future__ import annotations

import re

import sqlalchemy as sa

from tests.helpers import start_copying
from webapp import engine
from webapp.extensions import db


def listed(html: str) -> list[str]:
    table = html.split("<tbody>")[1].split("</tbody>")[0]
    return re.findall(r"CPY-2026-\d{5}", table)


def statements_for(client, url: str) -> tuple[str, list[str]]:
    seen: list[str] = []

    def record(conn, cursor, statement, *args):
        seen.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", record)
    try:
        html = client.get(url).get_data(as_text=True)
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", record)
    return html, seen


def test_the_listing_is_newest_first_names_the_requesters_and_reads_no_workflow_state(client, world, clock):
    def file_by(username: str) -> str:
        data = {"kind": "other_purpose", "assets": world.asset_ids(world.zei, "A-003"), "purpose": "参照",
                "handlers": [f"user:{username}"]}
        instance = engine.start("copying_consent", world.zei, data, world.users[username])
        db.session.commit()
        clock.advance(minutes=5)
        return instance.reference

    first, second = file_by("kobayashi"), file_by("sato")
    client.login("tanaka")
    client.get("/records/")  # the session's first page loads the person's scope and navigation once
    html, few = statements_for(client, "/records/")
    assert listed(html) == [second, first]
    assert "小林 健一" in html and "佐藤 美咲" in html
    assert not [s for s in few if "process_instance.state" in s]  # 10-40 KB a request, never shown here

    third, fourth = file_by("sato"), start_copying(world).reference
    html, more = statements_for(client, "/records/")
    assert listed(html) == [fourth, third, second, first]
    assert len(more) == len(few)  # no query per listed row
