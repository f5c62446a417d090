"""Script tasks and pre/post scripts: RestrictedPython compilation, guarded attribute access
limited to a few harmless methods per type, no ``try`` (a script must not catch its own time
limit), and limits on wall-clock time and memory growth enforced line by line.
"""
from __future__ import annotations

import ast
import json
import os
import re
import sys
import time
import types
from collections.abc import Callable, ItemsView, KeysView, Mapping, ValuesView
from datetime import date, datetime
from typing import Any

from flask_babel import lazy_gettext as _l
from RestrictedPython import compile_restricted_exec
from RestrictedPython.Guards import guarded_iter_unpack_sequence, guarded_unpack_sequence
from RestrictedPython.transformer import RestrictingNodeTransformer

from . import refusals
from .limits import (
    MAX_DATA_BYTES,
    MAX_FORMAT_NUMBER,
    MAX_SCRIPT_CHARS,
    MAX_SCRIPT_MEMORY,
    MAX_SEQUENCE,
    SAFE_FUNCTIONS,
    SandboxError,
    _SCRIPT_BINARY,
    _SUBSCRIPTABLE,
    _binary,
    _materialized,
    _member,
    _sink,
    _text,
    _too_large,
    bounded,
)

# --- scripts -----------------------------------------------------------------------------

def _operator(name: str) -> Any:
    return _l("Operator %(name)s is not allowed in scripts.", name=name)


_ALLOWED_METHODS: dict[type, frozenset[str]] = {
    str: frozenset({"lower", "upper", "strip", "lstrip", "rstrip", "split", "startswith", "endswith",
                    "replace", "join", "isdigit", "isalnum", "find", "count"}),
    list: frozenset({"append", "extend", "pop", "insert", "index", "count", "sort", "remove", "reverse", "copy"}),
    dict: frozenset({"get", "keys", "values", "items", "update", "pop", "setdefault", "copy"}),
    tuple: frozenset({"index", "count"}),
    date: frozenset({"year", "month", "day", "isoformat", "weekday"}),
    datetime: frozenset({"year", "month", "day", "hour", "minute", "isoformat", "weekday", "date"}),
}


def _grown(container: list | dict, extra: int) -> None:
    if len(container) + extra > MAX_SEQUENCE:
        raise SandboxError(_l("A list or dictionary may hold at most %(limit)s elements.", limit=MAX_SEQUENCE))


def _str_method(obj: str, name: str, method: Callable[..., Any]) -> Callable[..., Any]:
    """``replace`` and ``join`` can build text far longer than their inputs: check first."""
    if name == "replace":
        def replace(old: str, new: str, count: int = -1) -> str:
            if len(new) > len(old) and obj.count(old) * (len(new) - len(old)) + len(obj) > MAX_SEQUENCE:
                raise _too_large()
            return obj.replace(old, new, count)
        return replace
    if name == "join":
        def join(values: Any) -> str:
            items = list(values)
            length = sum(len(i) for i in items if isinstance(i, str)) + len(obj) * max(len(items) - 1, 0)
            if length > MAX_SEQUENCE:
                raise _too_large()
            return obj.join(items)
        return join
    return method


_COMPARING: dict[type, tuple[str, ...]] = {
    list: ("index", "count", "remove", "sort"), tuple: ("index", "count"), dict: ("get", "pop", "setdefault"),
}


def _collection_method(obj: list | tuple | dict, name: str, method: Callable[..., Any]) -> Callable[..., Any]:
    """Methods that grow a list or dict, or compare or hash natively: bounded before they run."""
    if name in ("append", "insert") and isinstance(obj, list):
        def grow(*args: Any) -> Any:
            _grown(obj, 1)
            return method(*args)
        return grow
    if name == "extend":
        def extend(values: Any) -> None:
            items = list(values)
            _grown(obj, len(items))
            method(items)
        return extend
    if name == "update":
        def update(other: Any = (), **kwargs: Any) -> None:
            items = other if isinstance(other, dict) else _materialized(other)
            _grown(obj, len(items) + len(kwargs))
            method(items, **kwargs)
        return update
    if name in _COMPARING.get(type(obj), ()):
        def compared(*args: Any, **kwargs: Any) -> Any:
            if not isinstance(obj, dict):
                _sink(obj)  # every element is compared with the argument, or with each other
            if args:
                _sink(args[0])
            if name == "setdefault" and args and args[0] not in obj:
                _grown(obj, 1)
            return method(*args, **kwargs)
        return compared
    return method


def _guarded_getattr(obj: Any, name: str, default: Any = None) -> Any:
    allowed = _ALLOWED_METHODS.get(type(obj), frozenset())
    if name not in allowed:
        raise SandboxError(_l("Attribute %(name)s of %(type)s is not available in scripts.", name=repr(name),
                              type=type(obj).__name__))
    method = getattr(obj, name)
    if type(obj) is str:
        return _str_method(obj, name, method)
    if type(obj) in (list, tuple, dict):
        return _collection_method(obj, name, method)
    return method


def _guarded_getitem(obj: Any, key: Any) -> Any:
    if not isinstance(obj, _SUBSCRIPTABLE):
        raise SandboxError(_l("Only text, lists, tuples and dictionaries can be indexed."))
    return obj[_sink(key) if isinstance(obj, dict) else key]


class _ItemWriter:
    """What ``obj[key] = value`` and ``del obj[key]`` write through (RestrictedPython's ``_write_``):
    keys are bounded before they are hashed, and a list or dict may not grow past the limit."""

    __slots__ = ("target",)

    def __init__(self, target: list | dict):
        self.target = target

    def __setitem__(self, key: Any, value: Any) -> None:
        target = self.target
        if isinstance(key, slice):
            value = list(value)
            _grown(target, len(value))
        elif isinstance(target, dict) and _sink(key) not in target:
            _grown(target, 1)
        target[key] = value

    def __delitem__(self, key: Any) -> None:
        del self.target[_sink(key) if isinstance(self.target, dict) else key]


def _guarded_write(obj: Any) -> _ItemWriter:
    if type(obj) not in (list, dict):
        raise SandboxError(_l("Values of type %(type)s cannot be changed in scripts; only lists and dictionaries "
                              "can.", type=type(obj).__name__))
    return _ItemWriter(obj)


_ITERABLE = (list, tuple, dict, str, set, frozenset, range, KeysView, ValuesView, ItemsView,
             enumerate, zip, types.GeneratorType)


def _guarded_iter(obj: Any) -> Any:
    if not isinstance(obj, _ITERABLE):
        raise SandboxError(_l("Scripts cannot iterate over values of type %(type)s.", type=type(obj).__name__))
    return iter(obj)


_INPLACE: dict[str, type] = {"+=": ast.Add, "-=": ast.Sub, "*=": ast.Mult, "/=": ast.Div,
                             "//=": ast.FloorDiv, "%=": ast.Mod, "|=": ast.BitOr, "&=": ast.BitAnd,
                             "^=": ast.BitXor, ">>=": ast.RShift}


def _binop(op_name: str, left: Any, right: Any) -> Any:
    """Every binary operator of a script (rewritten by :class:`_ScriptPolicy`)."""
    op = getattr(ast, op_name)
    if op not in _SCRIPT_BINARY:
        raise SandboxError(_operator(op_name))
    if op in (ast.BitOr, ast.BitAnd, ast.BitXor, ast.Sub) and not isinstance(left, (int, float)):
        _sink(left), _sink(right)  # set operations hash every element
    return _binary(op, left, right)


def _inplace(op: str, target: Any, value: Any) -> Any:
    if op not in _INPLACE:
        raise SandboxError(_operator(op))
    return _binop(_INPLACE[op].__name__, target, value)


_CONVERSIONS: dict[int, Callable[[Any], str]] = {115: str, 114: repr, 97: ascii}


def _format(value: Any, conversion: int, spec: str) -> str:
    """One ``{value!conversion:spec}`` of an f-string: a bounded value, and no huge width or precision."""
    bounded(value)
    for number in re.findall(r"\d+", spec):
        if len(number) > 3 or int(number) > MAX_FORMAT_NUMBER:
            raise SandboxError(_l("F-string widths and precisions may not exceed %(limit)s.",
                                  limit=MAX_FORMAT_NUMBER))
    if conversion in _CONVERSIONS:
        value = _CONVERSIONS[conversion](value)
    return format(value, spec)


def _fstring(parts: list[str]) -> str:
    if sum(len(p) for p in parts) > MAX_SEQUENCE:
        raise _too_large()
    return "".join(parts)


class _ScriptPolicy(RestrictingNodeTransformer):
    """RestrictedPython's policy, plus: binary operators, comparison operands, hashed keys and
    f-strings go through the size checks above; ``**``, ``<<``, ``try``, class definitions,
    imports, ``global``/``nonlocal`` and attribute writes are refused."""

    def error(self, node: ast.AST, info: Any) -> None:
        """Record a refusal as a lazy translation (RestrictedPython writes ``Line n: info`` in English)."""
        self.errors.append(_l("Line %(line)s: %(problem)s", line=getattr(node, "lineno", None),
                              problem=refusals.translatable(info)))

    def _call(self, name: str, args: list[ast.expr], like: ast.AST) -> ast.Call:
        call = ast.Call(func=ast.Name(name, ast.Load()), args=args, keywords=[])
        return ast.fix_missing_locations(ast.copy_location(call, like))

    def _sunk(self, node: ast.expr, guard: str = "_sink_") -> ast.expr:
        return node if isinstance(node, ast.Constant) else self._call(guard, [node], node)

    def visit_BinOp(self, node: ast.BinOp) -> Any:
        node = self.node_contents_visit(node)
        if isinstance(node.op, (ast.Pow, ast.LShift, ast.MatMult)):
            self.error(node, _operator(type(node.op).__name__))
            return node
        return self._call("_binop_", [ast.Constant(type(node.op).__name__), node.left, node.right], node)

    def visit_Compare(self, node: ast.Compare) -> Any:
        node = self.node_contents_visit(node)
        node.left = self._sunk(node.left)
        node.comparators = [self._sunk(c, "_member_" if isinstance(op, (ast.In, ast.NotIn)) else "_sink_")
                            for op, c in zip(node.ops, node.comparators)]
        return node

    def visit_Dict(self, node: ast.Dict) -> Any:
        node = self.node_contents_visit(node)
        node.keys = [k if k is None else self._sunk(k) for k in node.keys]
        return node

    def visit_Set(self, node: ast.Set) -> Any:
        node = self.node_contents_visit(node)
        node.elts = [self._sunk(e) for e in node.elts]
        return node

    def visit_SetComp(self, node: ast.SetComp) -> Any:
        node = super().visit_SetComp(node)
        node.elt = self._sunk(node.elt)
        return node

    def visit_DictComp(self, node: ast.DictComp) -> Any:
        node = super().visit_DictComp(node)
        node.key = self._sunk(node.key)
        return node

    def visit_JoinedStr(self, node: ast.JoinedStr) -> Any:
        node = self.node_contents_visit(node)
        parts: list[ast.expr] = []
        for value in node.values:
            if isinstance(value, ast.FormattedValue):
                spec = value.format_spec if value.format_spec is not None else ast.Constant("")
                parts.append(self._call("_format_", [value.value, ast.Constant(value.conversion), spec], value))
            else:
                parts.append(value)
        return self._call("_fstring_", [ast.List(parts, ast.Load())], node)

    def visit_Attribute(self, node: ast.Attribute) -> Any:
        if isinstance(node.ctx, (ast.Store, ast.Del)):
            self.error(node, _l("Changing attributes (a.b = ...) is not allowed in scripts."))
            return node
        return super().visit_Attribute(node)

    def visit_Try(self, node: ast.Try) -> Any:
        self.error(node, _l("Try/except statements are not allowed in scripts (a failing step must stop the "
                            "script)."))
        return node

    def visit_ClassDef(self, node: ast.ClassDef) -> Any:
        self.error(node, _l("Class definitions are not allowed in scripts."))
        return node

    def visit_Import(self, node: ast.Import) -> Any:
        self.error(node, _l("Import statements are not allowed in scripts."))
        return node

    visit_ImportFrom = visit_Import

    def visit_Global(self, node: ast.Global) -> Any:
        self.error(node, _l("Global and nonlocal statements are not allowed in scripts."))
        return node

    visit_Nonlocal = visit_Global


def _error(kind: type[Exception]) -> Callable[..., Exception]:
    """An exception a script may raise; its message is written out later, so it is bounded."""
    def make(*args: Any) -> Exception:
        return kind(*(bounded(a) for a in args))

    make.__name__ = kind.__name__
    return make


def _set(values: Any = ()) -> set[Any]:
    return set(_materialized(values))


def _dict(*args: Any, **kwargs: Any) -> dict[Any, Any]:
    if args and not isinstance(args[0], dict):
        args = (_materialized(args[0]),)
    return dict(*args, **kwargs)


_REAL_TYPES: dict[Any, type] = {_text: str, _set: set, _dict: dict}


def _isinstance(value: Any, kinds: Any) -> bool:
    """``isinstance``, where ``str``, ``set`` and ``dict`` name their bounded stand-ins."""
    if isinstance(kinds, tuple):
        return isinstance(value, tuple(_REAL_TYPES.get(k, k) for k in kinds))
    return isinstance(value, _REAL_TYPES.get(kinds, kinds))


_SCRIPT_BUILTINS: dict[str, Any] = {
    "None": None, "True": True, "False": False,
    "isinstance": _isinstance, "ValueError": _error(ValueError), "KeyError": _error(KeyError),
    "dict": _dict, "list": list, "tuple": tuple, "set": _set, "enumerate": enumerate, "zip": zip,
    **SAFE_FUNCTIONS,
}
_GUARDS: dict[str, Any] = {
    "_getattr_": _guarded_getattr, "_getitem_": _guarded_getitem, "_getiter_": _guarded_iter,
    "_write_": _guarded_write, "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
    "_unpack_sequence_": guarded_unpack_sequence, "_inplacevar_": _inplace, "_binop_": _binop,
    "_sink_": _sink, "_member_": _member, "_format_": _format, "_fstring_": _fstring,
}
# What a script may leave in task data. Anything else (functions, generators, zip objects,
# dict views) is dropped: a generator kept in the data would run script code later, outside
# the time limit, in whatever evaluates it next.
_DATA_TYPES = (str, int, float, bool, type(None), list, tuple, dict, set, date, datetime)


def _resident_bytes() -> int | None:
    """This process's resident memory (Linux); None where /proc is not available."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * _PAGE_BYTES
    except (OSError, ValueError, IndexError):
        return None


_PAGE_BYTES = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


class _Limits:
    """A trace function that stops a script after ``seconds`` of wall-clock time, or once the
    process has grown by more than ``memory`` bytes (a loop can allocate hundreds of MB a second).

    ``sys.settrace`` works in any thread, unlike SIGALRM, so web workers and the timer
    worker are both covered. Only the script's own frames are traced. A trace function that
    raises is removed by Python, so scripts may not ``try``: nothing can catch this and go on.
    """

    def __init__(self, seconds: float, memory: int = MAX_SCRIPT_MEMORY):
        now = time.monotonic()
        self.deadline = now + seconds
        self.seconds = seconds
        resident = _resident_bytes()
        self.memory = memory
        self.ceiling = None if resident is None else resident + memory
        self.next_check = now

    def __call__(self, frame: Any, event: str, arg: Any) -> Any:
        if frame.f_code.co_filename != "<script>":
            return None
        now = time.monotonic()
        if now > self.deadline:
            raise SandboxError(_l("The script exceeded its time limit of %(seconds)s s.",
                                  seconds=f"{self.seconds:g}"))
        if self.ceiling is not None and now >= self.next_check:
            self.next_check = now + 0.01
            if (_resident_bytes() or 0) > self.ceiling:
                raise SandboxError(_l("The script used more than %(mb)s MB of memory.", mb=self.memory // 2**20))
        return self


def check_script(script: str) -> Any:
    """Compile a script under the policy; raise :class:`SandboxError` listing every refusal."""
    if not isinstance(script, str):
        raise SandboxError(_l("A script must be text."))
    if len(script) > MAX_SCRIPT_CHARS:
        raise SandboxError(_l("The script is longer than %(limit)s characters.", limit=MAX_SCRIPT_CHARS))
    try:
        result = compile_restricted_exec(script, filename="<script>", policy=_ScriptPolicy)
    except (RecursionError, MemoryError):
        raise SandboxError(_l("The script is nested too deeply.")) from None
    if result.errors:
        raise SandboxError(refusals.problems(result.errors))
    return result.code


def _stored_data(namespace: Mapping[str, Any], functions: Mapping[str, Any]) -> dict[str, Any]:
    """The task data a script leaves: plain data only, and not too much of it.

    One walk checks every value's type and counts its size as :func:`.limits.footprint` does (a
    shared part each time it appears, so a cycle never ends the count), stopping once past the
    limit; that count never exceeds the JSON's length, so only then is the JSON, which may
    still refuse (a tuple as a key), written to measure exactly what will be stored.
    """
    updated = {k: v for k, v in namespace.items()
               if not k.startswith("_") and k not in functions and isinstance(v, _DATA_TYPES)}
    size = 0
    for name, value in updated.items():
        stack = [value]
        while stack:
            item = stack.pop()
            if not isinstance(item, _DATA_TYPES):
                raise SandboxError(_l("The script left a %(type)s inside %(name)s; only text, numbers, dates, lists "
                                      "and dictionaries can be stored.", type=type(item).__name__,
                                      name=repr(name)))
            if isinstance(item, str):
                size += len(item)
            elif isinstance(item, (list, tuple, set)):
                size += len(item)
                stack.extend(item)
            elif isinstance(item, dict):
                size += len(item)
                stack.extend(item.keys())
                stack.extend(item.values())
            elif isinstance(item, int):
                size += 1 + item.bit_length() // 32
            else:
                size += 1
            if size > MAX_DATA_BYTES:
                raise _too_much_data()
    try:
        size = len(json.dumps(updated, default=str))
    except (TypeError, ValueError) as err:
        raise SandboxError(_l("The script left data that cannot be stored: %(detail)s", detail=str(err))) from None
    if size > MAX_DATA_BYTES:
        raise _too_much_data()
    return updated


def _too_much_data() -> SandboxError:
    return SandboxError(_l("The script left more than %(limit)s characters of data.", limit=MAX_DATA_BYTES))


def run_script(script: str, context: dict[str, Any], functions: Mapping[str, Callable[..., Any]] | None = None,
               time_limit: float = 1.0) -> None:
    """Run a script task or pre/post script, updating ``context`` (the task data) in place."""
    code = check_script(script)
    functions = dict(functions or {})
    clash = set(context) & set(functions)
    if clash:
        raise SandboxError(_l("Task data uses the reserved name(s): %(names)s", names=", ".join(sorted(clash))))
    namespace: dict[str, Any] = {"__builtins__": {**_SCRIPT_BUILTINS, **functions}, **_GUARDS, **context}
    previous = sys.gettrace()
    sys.settrace(_Limits(time_limit))
    try:
        exec(code, namespace)  # noqa: S102 - compiled by RestrictedPython under _ScriptPolicy
    except RecursionError:
        raise SandboxError(_l("The script recursed too deeply.")) from None
    except MemoryError:
        raise SandboxError(_l("The script ran out of memory.")) from None
    finally:
        sys.settrace(previous)
    updated = _stored_data(namespace, functions)
    context.clear()
    context.update(updated)
