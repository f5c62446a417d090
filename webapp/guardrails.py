"""Guardrails: the controls the provisions demand, checked on a diagram's graph before deploy.

A policy is data: ``processes/policies/<process key>.json`` for one flow, plus
``processes/policies/_all.json`` applied to every flow (``processes/policies/README.md``
documents the format). :func:`check` reads the ``engine.parse.describe`` output only, so
deploy, ``shodaku lint`` and the designer's "Validate" give the same answers. Every
violation quotes the article it protects ("第15条第3項: …") and names the element to fix.

Path rules are reachability questions: "every path from the start to X passes Y" holds when X
cannot be reached once every node matching Y is taken out. Send-back loops and gateways need
no special case. A task is modelled as *entered* and *completed*: its boundary events leave
from *entered*, so a timer branch of an approval does not count as having passed it.
A policy that cannot be read blocks deployment (fail closed).
"""
from __future__ import annotations

import json
import logging
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import current_app
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l

from .engine import sandbox
from .engine.parse import KEY, TRUE_VALUES, Problem
from .roles import ROLES

logger = logging.getLogger(__name__)

GLOBAL_POLICY = "_all"
SELECTOR_KEYS = {"id", "type", "lane", "side", "operator", "decision", "not_requester", "property", "any"}
RULES = {
    "passes_through": ({"target", "via", "article"}, {"message", "message_en", "required", "note"}),
    "property": ({"task", "name", "article"}, {"equals", "message", "message_en", "required", "note"}),
    "deadline": ({"tasks", "escalation", "article"}, {"message", "message_en", "required", "note"}),
}


class PolicyError(ValueError):
    """A policy file that is not valid; names the file and the fault."""


# --- policies ---------------------------------------------------------------------------------

def policy_dir() -> Path:
    return Path(current_app.config["PROCESSES_DIR"]) / "policies"


def policy_files(key: str, base: Path | None = None) -> list[Path]:
    """The flow's own policy first (its articles are the more specific), then the global one."""
    base = base or policy_dir()
    files = [base / f"{key}.json"] if KEY.fullmatch(key or "") else []
    return [p for p in files + [base / f"{GLOBAL_POLICY}.json"] if p.is_file()]


def load_policy(path: Path) -> list[dict[str, Any]]:
    """The rules of one policy file, checked for shape. :raise PolicyError:"""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise PolicyError(f"{path.name}: not readable JSON ({err})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("rules"), list):
        raise PolicyError(f"{path.name}: must be an object with a list 'rules'")
    if path.stem != GLOBAL_POLICY and doc.get("process") != path.stem:
        raise PolicyError(f"{path.name}: 'process' must be {path.stem!r}")
    for index, rule in enumerate(doc["rules"]):
        where = f"{path.name} rule {index + 1}"
        if not isinstance(rule, dict) or rule.get("rule") not in RULES:
            raise PolicyError(f"{where}: 'rule' must be one of {', '.join(sorted(RULES))}")
        required, optional = RULES[rule["rule"]]
        missing, unknown = required - rule.keys(), rule.keys() - required - optional - {"rule"}
        if missing or unknown:
            raise PolicyError(f"{where}: missing {sorted(missing)}, unknown {sorted(unknown)}")
        for name in ("target", "task", "tasks"):
            if name in rule:
                _check_selector(rule[name], where)
        if rule["rule"] == "passes_through":
            if not isinstance(rule["via"], list) or not rule["via"]:
                raise PolicyError(f"{where}: 'via' must be a non-empty list of selectors")
            for selector in rule["via"]:
                _check_selector(selector, where)
        if rule["rule"] == "deadline" and not (isinstance(rule["escalation"], list) and rule["escalation"]):
            raise PolicyError(f"{where}: 'escalation' must be a non-empty list of handler names")
    return doc["rules"]


def _check_selector(selector: Any, where: str) -> None:
    if isinstance(selector, str):
        return
    if not isinstance(selector, dict) or not selector or set(selector) - SELECTOR_KEYS:
        raise PolicyError(f"{where}: a selector is a node id or an object with keys among "
                          f"{', '.join(sorted(SELECTOR_KEYS))}; got {selector!r}")
    for alternative in selector.get("any", []):
        _check_selector(alternative, where)


# --- matching nodes ---------------------------------------------------------------------------

def _one_of(value: Any, wanted: Any) -> bool:
    return value in wanted if isinstance(wanted, list) else value == wanted


def _flag(value: Any) -> bool:
    return value is True or str(value).lower() in TRUE_VALUES


def matches(selector: Any, node_id: str, meta: Mapping[str, Any]) -> bool:
    """Whether a node satisfies a selector: every key must hold (``any``: one alternative)."""
    if isinstance(selector, str):
        return node_id == selector
    node = meta["nodes"].get(node_id, {})
    task = meta["tasks"].get(node_id, {})
    role = ROLES.get(node.get("lane", ""))
    for key, wanted in selector.items():
        if key == "id" and not _one_of(node_id, wanted):
            return False
        if key == "type" and not _one_of(node.get("type"), wanted):
            return False
        if key == "lane" and not _one_of(node.get("lane"), wanted):
            return False
        if key == "side" and not (role is not None and _one_of(role.side, wanted)):
            return False
        if key == "operator" and not _one_of(meta["services"].get(node_id, {}).get("operator"), wanted):
            return False
        if key in ("decision", "not_requester") and bool(task.get(key)) != bool(wanted):
            return False
        if key == "property":
            props = node.get("properties", {})
            for name, value in wanted.items():
                have = props.get(name)
                if (isinstance(value, bool) and _flag(have) != value) or \
                        (not isinstance(value, bool) and have != str(value)):
                    return False
        if key == "any" and not any(matches(alt, node_id, meta) for alt in wanted):
            return False
    return True


def select(selector: Any, meta: Mapping[str, Any]) -> list[str]:
    """The matching nodes in reading order (``meta["order"]`` lists every node)."""
    return [n for n in meta["order"] if n in meta["nodes"] and matches(selector, n, meta)]


# --- the graph ----------------------------------------------------------------------------------

@dataclass
class Graph:
    """The diagram's flows as adjacency lists, built once per :func:`check` and shared by its rules."""

    outgoing: dict[str, list[str]]
    roots: list[str]
    boundaries: dict[str, list[str]]
    _reach: dict[str, set[str]] = field(default_factory=dict)

    @classmethod
    def of(cls, meta: Mapping[str, Any]) -> Graph:
        """Roots are where execution can begin: every start event (nested ones too) and every catch
        event nothing flows into (a link event's target). An orphaned task never runs, so it is not one."""
        outgoing: dict[str, list[str]] = {}
        for flow in meta["flows"]:
            outgoing.setdefault(flow["source"], []).append(flow["target"])
        incoming = {f["target"] for f in meta["flows"]}
        roots = [n for n, node in meta["nodes"].items() if node["type"] == "startEvent" or
                 (node["type"] == "intermediateCatchEvent" and n not in incoming)]
        boundaries = {t: [b["id"] for b in bs] for t, bs in meta.get("boundaries", {}).items()}
        return cls(outgoing, roots, boundaries)

    def reachable(self, start: str) -> set[str]:
        """Every node a path from ``start`` can reach, ``start`` included."""
        if start not in self._reach:
            seen, queue = {start}, deque([start])
            while queue:
                for target in self.outgoing.get(queue.popleft(), []):
                    if target not in seen:
                        seen.add(target)
                        queue.append(target)
            self._reach[start] = seen
        return self._reach[start]


def bypass(graph: Graph, targets: Iterable[str], removed: set[str]) -> list[str] | None:
    """A path from a root into one of ``targets`` that completes none of ``removed``, or None."""
    targets = set(targets)
    parent: dict[tuple[str, str], tuple[str, str] | None] = {("in", r): None for r in graph.roots}
    queue = deque(parent)
    while queue:
        state = queue.popleft()
        phase, node = state
        if phase == "in" and node in targets:
            path = []
            while state is not None:
                if state[0] == "in":
                    path.append(state[1])
                state = parent[state]
            return path[::-1]
        if phase == "in":
            following = [("in", b) for b in graph.boundaries.get(node, [])]
            if node not in removed:
                following.append(("out", node))
        else:
            following = [("in", t) for t in graph.outgoing.get(node, [])]
        for nxt in following:
            if nxt not in parent:
                parent[nxt] = state
                queue.append(nxt)
    return None


# --- the rules ----------------------------------------------------------------------------------

# What a rule found: the fault, named without article or wording (so that two policies demanding
# the same thing of the same element are reported once), and the problem to show.
Finding = tuple[tuple[Any, ...], Problem]


def _message(rule: Mapping[str, Any], default: Any) -> str:
    text = rule.get("message") or default
    try:
        if rule.get("message_en") and str(get_locale()) == "en":
            text = rule["message_en"]
    except RuntimeError:  # no app context: keep Japanese
        pass
    return f"{rule['article']}: {text}"


def _label(meta: Mapping[str, Any], node_id: str) -> str:
    return meta["nodes"].get(node_id, {}).get("name") or node_id


def _problem(meta: Mapping[str, Any], node_id: str, message: str) -> Problem:
    node = meta["nodes"].get(node_id, {})
    return Problem(node_id, message, name=node.get("name", ""), line=node.get("line"))


def _selector_key(selector: Any) -> str:
    return json.dumps(selector, sort_keys=True, ensure_ascii=False)


def _missing(meta: Mapping[str, Any], rule: Mapping[str, Any], selector: Any) -> Finding:
    return ("missing", _selector_key(selector)), \
        Problem(meta["key"], _message(rule, _l("The diagram has no step matching %(what)s, which this "
                                               "provision requires.", what=json.dumps(selector, ensure_ascii=False))))


def _passes_through(meta: Mapping[str, Any], rule: Mapping[str, Any], graph: Graph) -> list[Finding]:
    targets = select(rule["target"], meta)
    if not targets:
        return [_missing(meta, rule, rule["target"])] if rule.get("required", True) else []
    problems = []
    for via in rule["via"]:
        path = bypass(graph, targets, set(select(via, meta)))
        if path is not None:
            route = " → ".join(_label(meta, n) for n in path)
            problems.append((("bypass", _selector_key(via)),
                             _problem(meta, path[-1], _message(rule, _l("A path reaches this step without "
                                                                           "passing the required step.")) +
                                      str(_l(" (path: %(route)s)", route=route)))))
    return problems


def _property(meta: Mapping[str, Any], rule: Mapping[str, Any], graph: Graph) -> list[Finding]:
    tasks = select(rule["task"], meta)
    if not tasks:
        return [_missing(meta, rule, rule["task"])] if rule.get("required", True) else []
    problems = []
    for task_id in tasks:
        have = meta["tasks"].get(task_id, {}).get(rule["name"])
        if have is None:
            have = meta["nodes"][task_id].get("properties", {}).get(rule["name"])
        wanted = rule.get("equals")
        ok = bool(have) if wanted is None else \
            (_flag(have) == wanted if isinstance(wanted, bool) else str(have or "") == str(wanted))
        if not ok:
            message = _message(rule, _l("Property %(name)s must be %(value)s.", name=rule["name"],
                                        value=json.dumps(wanted if wanted is not None else "set", ensure_ascii=False)))
            problems.append((("property", rule["name"], _selector_key(wanted)), _problem(meta, task_id, message)))
    return problems


def _names_task(params: Mapping[str, str], task_id: str) -> bool:
    """A reminder/escalation service names its task in ``task``; another task's does not count.

    The parameter is evaluated by the sandbox (the one evaluator of diagram text) with no data
    and no functions: a constant gives its value; anything that needs the request's data cannot
    be told before a run and is given the benefit of the doubt.
    """
    if "task" not in params:
        return True
    try:
        return sandbox.evaluate(params["task"], {}, {}) == task_id
    except (sandbox.SandboxError, NameError, TypeError, KeyError, IndexError, ValueError, ArithmeticError):
        return True


def _deadline(meta: Mapping[str, Any], rule: Mapping[str, Any], graph: Graph) -> list[Finding]:
    tasks = select(rule["tasks"], meta)
    if not tasks and rule.get("required", False):
        return [_missing(meta, rule, rule["tasks"])]
    problems = []
    for task_id in tasks:
        task = meta["tasks"].get(task_id, {})
        if not task.get("due"):
            problems.append((("due",), _problem(meta, task_id, _message(rule, _l(
                "This decision needs a deadline: set the property 'due' (e.g. 3bd).")))))
        escalates = False
        for boundary in meta.get("boundaries", {}).get(task_id, []):
            if boundary["cancel"] or not boundary.get("timer"):
                continue
            for node_id in graph.reachable(boundary["id"]):
                service = meta["services"].get(node_id)
                if service and service["operator"] in rule["escalation"] and _names_task(service["params"], task_id):
                    escalates = True
        if not escalates:
            problems.append((("escalation", tuple(rule["escalation"])), _problem(meta, task_id, _message(rule, _l(
                "Overdue handling is missing: attach a non-interrupting timer boundary event leading to a service "
                "task calling %(handlers)s for this task.", handlers=" / ".join(rule["escalation"]))))))
    return problems


CHECKS = {"passes_through": _passes_through, "property": _property, "deadline": _deadline}


def check(meta: Mapping[str, Any], base: Path | None = None) -> list[Problem]:
    """Every guardrail problem of a described diagram (``engine.parse.describe`` output).

    The same element failing the same check under two policies is reported once, with the
    flow's own article (its policy is read first).
    """
    problems: list[Problem] = []
    seen: set[tuple[str, tuple[Any, ...]]] = set()
    graph = Graph.of(meta)
    for path in policy_files(meta["key"], base):
        try:
            rules = load_policy(path)
        except PolicyError as err:
            logger.error("guardrail policy refused: %s", err)
            problems.append(Problem(meta["key"], _l("The guardrail policy is invalid, so nothing can be deployed "
                                                    "until it is fixed: %(detail)s", detail=str(err))))
            continue
        for rule in rules:
            for fault, problem in CHECKS[rule["rule"]](meta, rule, graph):
                if (problem.element_id, fault) not in seen:
                    seen.add((problem.element_id, fault))
                    problems.append(problem)
    return problems
