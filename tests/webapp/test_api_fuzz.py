"""Fuzz the JSON API from its own OpenAPI document (schemathesis + hypothesis): whatever
arrives, no 500s, and every error answers with the documented envelope."""
from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings

from webapp.auth import tokens
from webapp.extensions import db

FUZZ = settings(max_examples=40, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                       HealthCheck.function_scoped_fixture])


def test_the_api_never_answers_500(app, world):
    _row, token = tokens.create(world.users["tanaka"], "fuzz")
    db.session.commit()
    headers = {"Authorization": f"Bearer {token}"}
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 6  # processes, instances (2), tasks (3)
    for operation in operations:
        @FUZZ
        @given(case=operation.as_strategy())
        def fuzz(case) -> None:
            response = case.call(headers=headers)
            assert response.status_code < 500, (operation.label, response.text[:300])
            if response.status_code >= 400 and case.path != "/openapi.json":
                body = response.json()
                assert set(body) >= {"error", "message"} and body["message"], operation.label

        fuzz()


def test_ids_beyond_what_the_database_holds_are_not_found(client, world):
    client.login("tanaka")
    huge = 2**63
    assert client.get(f"/records/{huge}").status_code == 404
    assert client.get(f"/tasks/{huge}").status_code == 404
    assert client.get(f"/records/?contract={huge}").status_code == 200
    assert client.get(f"/?contract={huge}").status_code == 200
