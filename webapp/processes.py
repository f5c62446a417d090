"""The shipped flows in ``processes/``: their diagrams and forms, read from disk when asked."""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from flask import current_app

from . import engine, guardrails
from .models import ProcessDefinition, User

logger = logging.getLogger(__name__)


def directory() -> Path:
    return Path(current_app.config["PROCESSES_DIR"])


def load_forms(base: Path | None = None) -> dict[str, Any]:
    """Every ``forms/**/*.json`` under the processes directory, keyed by its path below ``forms/``.

    A file that is not valid JSON is skipped with a warning; the diagram naming it then
    fails validation with "form does not exist", which names the file to fix.
    """
    root = (base or directory()) / "forms"
    forms: dict[str, Any] = {}
    for path in sorted(root.rglob("*.json")):
        try:
            forms[path.relative_to(root).as_posix()] = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            logger.warning("form %s is not readable JSON: %s", path, err)
    return forms


def shipped_diagrams(base: Path | None = None) -> list[Path]:
    return sorted((base or directory()).glob("*.bpmn"))


def deploy_shipped(user: User | None = None, only: set[str] | None = None) -> list[tuple[ProcessDefinition, bool]]:
    """Deploy every shipped diagram (or those named in ``only``) whose bytes or forms changed."""
    forms = load_forms()
    results = []
    for path in shipped_diagrams():
        if only is not None and path.stem not in only:
            continue
        results.append(engine.deploy(path.read_bytes(), forms, user=user, note=f"shipped {path.name}",
                                     policy_check=guardrails.check))
    return results
