"""The OpenAPI 3.1 description of API v1, served at ``/api/v1/openapi.json``."""
from __future__ import annotations

from typing import Any

_ERROR = {"$ref": "#/components/schemas/Error"}


def _responses(ok: dict[str, Any], *codes: int) -> dict[str, Any]:
    out: dict[str, Any] = dict(ok)
    for code in codes:
        out[str(code)] = {"description": {400: "Invalid request or form", 401: "Missing or invalid token",
                                          403: "Not allowed (role or a provision such as Art. 15(2))",
                                          404: "Not found or not visible to you",
                                          409: "Someone else completed the task first",
                                          422: "A step of the process failed; nothing was saved"}[code],
                          "content": {"application/json": {"schema": _ERROR}}}
    return out


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def document() -> dict[str, Any]:
    task_id = {"name": "task_id", "in": "path", "required": True, "schema": {"type": "integer"}}
    instance_id = {"name": "instance_id", "in": "path", "required": True, "schema": {"type": "integer"}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "Shodaku API", "version": "1",
                 "description": "Start requests, list and complete tasks, read request histories. Authenticate "
                                "with a personal access token: `Authorization: Bearer <token>` (create one under "
                                "Settings or with `shodaku create-token USERNAME`)."},
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearer": []}],
        "paths": {
            "/processes": {"get": {"summary": "Processes you may start, with the contracts and the request form",
                                   "responses": _responses({"200": _json({"type": "object"})}, 401)}},
            "/instances": {"post": {
                "summary": "Start a request",
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "type": "object", "required": ["process", "contract_id", "data"],
                    "properties": {"process": {"type": "string"}, "contract_id": {"type": "integer"},
                                   "data": {"type": "object"}}}}}},
                "responses": _responses({"201": _json({"$ref": "#/components/schemas/Instance"}, "Started")},
                                        400, 401, 404, 422)}},
            "/instances/{instance_id}": {"get": {
                "summary": "A request with its decisions, steps and history", "parameters": [instance_id],
                "responses": _responses({"200": _json({"$ref": "#/components/schemas/Instance"})}, 401, 404)}},
            "/tasks": {"get": {
                "summary": "Your tasks",
                "parameters": [
                    {"name": "status", "in": "query", "schema": {"type": "string", "enum": ["open", "completed", "all"]}},
                    {"name": "process", "in": "query", "schema": {"type": "string"}},
                    {"name": "contract", "in": "query", "schema": {"type": "integer"}},
                    {"name": "overdue", "in": "query", "schema": {"type": "string", "enum": ["1"]}},
                    {"name": "q", "in": "query", "schema": {"type": "string"}},
                    {"name": "sort", "in": "query", "schema": {"type": "string", "enum": ["due", "-due", "age", "-age"]}},
                    {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1}},
                    {"name": "per_page", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100}},
                ],
                "responses": _responses({"200": _json({"type": "object", "properties": {
                    "items": {"type": "array", "items": {"$ref": "#/components/schemas/Task"}},
                    "_meta": {"type": "object"}}})}, 401)}},
            "/tasks/{task_id}": {"get": {
                "summary": "A task with its form (JSON Schema, options resolved for the contract)",
                "parameters": [task_id],
                "responses": _responses({"200": _json({"$ref": "#/components/schemas/Task"})}, 401, 404)}},
            "/tasks/{task_id}/complete": {"post": {
                "summary": "Complete a task with its form data", "parameters": [task_id],
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "type": "object", "required": ["data"], "properties": {"data": {"type": "object"}}}}}},
                "responses": _responses({"200": _json({"type": "object"})}, 400, 401, 403, 404, 409, 422)}},
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {"type": "object", "required": ["error", "message"], "properties": {
                    "error": {"type": "string"}, "message": {"type": "string"},
                    "fields": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}},
                    "completed_by": {"type": "string"}, "completed_at": {"type": "string"}}},
                "Task": {"type": "object", "properties": {
                    "id": {"type": "integer"}, "title": {"type": "string"}, "status": {"type": "string"},
                    "process": {"type": "string"}, "instance_id": {"type": "integer"},
                    "due_at": {"type": ["string", "null"]}, "form": {"type": ["object", "null"]}}},
                "Instance": {"type": "object", "properties": {
                    "id": {"type": "integer"}, "reference": {"type": "string"}, "status": {"type": "string"},
                    "request": {"type": "object"}, "decisions": {"type": "array"}}},
            },
        },
    }
