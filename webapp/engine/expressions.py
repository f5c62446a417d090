"""Diagram expressions (conditions, timers, service parameters): an interpreter over a
whitelist of AST nodes. No attribute access, no lambdas or comprehensions, no names starting
with ``_``, calls only to registered functions, a cap on nesting, size caps on every value.
"""
from __future__ import annotations

import ast
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

from flask_babel import lazy_gettext as _l

from .limits import (
    MAX_EXPRESSION_CHARS,
    MAX_EXPRESSION_DEPTH,
    MAX_INT_BITS,
    MAX_SEQUENCE,
    SAFE_FUNCTIONS,
    SandboxError,
    _BINARY,
    _COMPARE,
    _CONSTANT_TYPES,
    _CONTAINERS,
    _SUBSCRIPTABLE,
    _UNARY,
    _binary,
    _number_too_large,
    _too_large,
    footprint,
)

# --- expressions -------------------------------------------------------------------------

class _Interpreter:
    def __init__(self, names: Mapping[str, Any], functions: Mapping[str, Callable[..., Any]]):
        self.names = names
        self.functions = functions
        # Expressions cannot change a value, so sizes measured once stay true: by id, with
        # the values kept alive so that no id is reused during the evaluation.
        self.sizes: dict[int, int] = {}
        self.measured: list[Any] = []

    def eval(self, node: ast.AST) -> Any:
        method = getattr(self, "_" + type(node).__name__, None)
        if method is None:
            raise _refused(node)
        return method(node)

    def size(self, value: Any) -> int:
        if not isinstance(value, _CONTAINERS):
            return footprint(value)
        if id(value) not in self.sizes:
            self.sizes[id(value)] = footprint(value, MAX_SEQUENCE, self.sizes)
            self.measured.append(value)
        return self.sizes[id(value)]

    def limit(self, value: Any) -> Any:
        if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
            raise _number_too_large()
        if self.size(value) > MAX_SEQUENCE:
            raise _too_large()
        return value

    def build(self, kind: Callable[[Any], Any], parts: list[Any], items: Any = None) -> Any:
        """A list, tuple, set or dict literal, refused before it is built if too large."""
        total = len(parts)
        for part in parts:
            total += self.size(part)
            if total > MAX_SEQUENCE:
                raise _too_large()
        value = kind(parts if items is None else items)
        self.sizes[id(value)] = total
        self.measured.append(value)
        return value

    def _Expression(self, node: ast.Expression) -> Any:
        return self.eval(node.body)

    def _Constant(self, node: ast.Constant) -> Any:
        if not isinstance(node.value, _CONSTANT_TYPES):
            raise _bad_constant()
        return node.value

    def _Name(self, node: ast.Name) -> Any:
        name = node.id
        if name.startswith("_"):
            raise _underscore_name(name)
        if name in self.names:
            return self.names[name]
        if name in self.functions:
            return self.functions[name]
        raise NameError(f"name {name!r} is not defined", name=name)

    def _BoolOp(self, node: ast.BoolOp) -> Any:
        is_and = isinstance(node.op, ast.And)
        value: Any = is_and
        for operand in node.values:
            value = self.eval(operand)
            if bool(value) != is_and:
                return value
        return value

    def _UnaryOp(self, node: ast.UnaryOp) -> Any:
        op = type(node.op)
        if op not in _UNARY:
            raise _operator(op)
        return _UNARY[op](self.eval(node.operand))

    def _BinOp(self, node: ast.BinOp) -> Any:
        op = type(node.op)
        if op not in _BINARY:
            raise _operator(op)
        return _binary(op, self.eval(node.left), self.eval(node.right), self.size)

    def _Compare(self, node: ast.Compare) -> bool:
        left = self.eval(node.left)
        for op, comparator in zip(node.ops, node.comparators):
            right = self.eval(comparator)
            if not _COMPARE[type(op)](left, right):
                return False
            left = right
        return True

    def _IfExp(self, node: ast.IfExp) -> Any:
        return self.eval(node.body) if self.eval(node.test) else self.eval(node.orelse)

    def _Tuple(self, node: ast.Tuple) -> tuple:
        return self.build(tuple, [self.eval(e) for e in node.elts])

    def _List(self, node: ast.List) -> list:
        return self.build(list, [self.eval(e) for e in node.elts])

    def _Set(self, node: ast.Set) -> set:
        return self.build(set, [self.eval(e) for e in node.elts])

    def _Dict(self, node: ast.Dict) -> dict:
        if any(k is None for k in node.keys):
            raise SandboxError(_l("Dictionary unpacking (**) is not allowed."))
        keys = [self.eval(k) for k in node.keys]
        values = [self.eval(v) for v in node.values]
        return self.build(dict, keys + values, zip(keys, values))

    def _Subscript(self, node: ast.Subscript) -> Any:
        container = self.eval(node.value)
        if not isinstance(container, _SUBSCRIPTABLE):
            raise SandboxError(_l("Only text, lists, tuples and dictionaries can be indexed."))
        if isinstance(node.slice, ast.Slice):
            parts = (node.slice.lower, node.slice.upper, node.slice.step)
            return container[slice(*(self.eval(p) if p is not None else None for p in parts))]
        return container[self.eval(node.slice)]

    def _Call(self, node: ast.Call) -> Any:
        if not isinstance(node.func, ast.Name) or node.func.id not in self.functions:
            raise _not_callable(self.functions)
        if node.keywords or any(isinstance(a, ast.Starred) for a in node.args):
            raise SandboxError(_KEYWORD_ARGUMENTS)
        return self.limit(self.functions[node.func.id](*(self.eval(a) for a in node.args)))

    def _JoinedStr(self, node: ast.JoinedStr) -> str:
        parts, length = [], 0
        for value in node.values:
            if isinstance(value, ast.Constant):
                part = str(value.value)
            elif isinstance(value, ast.FormattedValue) and value.conversion == -1 and value.format_spec is None:
                part = str(self.limit(self.eval(value.value)))
            else:
                raise SandboxError(_l("Format conversions and format specs are not allowed in f-strings."))
            length += len(part)
            if length > MAX_SEQUENCE:
                raise _too_large()
            parts.append(part)
        return "".join(parts)


# Keyword arguments: refused by the interpreter at the call, and by the lint as a node.
_KEYWORD_ARGUMENTS = _l("Keyword and * arguments are not allowed in expressions.")
_REFUSED_NODES: dict[str, Any] = {
    "Attribute": _l("Attribute access (a.b) is not allowed in expressions."),
    "Lambda": _l("A lambda is not allowed in expressions."),
    "ListComp": _l("A list comprehension is not allowed in expressions."),
    "DictComp": _l("A dict comprehension is not allowed in expressions."),
    "SetComp": _l("A set comprehension is not allowed in expressions."),
    "GeneratorExp": _l("A generator expression is not allowed in expressions."),
    "NamedExpr": _l("Assignment (:=) is not allowed in expressions."),
    "Await": _l("Await is not allowed in expressions."),
    "Yield": _l("Yield is not allowed in expressions."),
    "Starred": _l("Unpacking (*) is not allowed in expressions."),
    "keyword": _KEYWORD_ARGUMENTS,
}


def _refused(node: ast.AST) -> SandboxError:
    """Syntax expressions may not use, named in words where there are words for it."""
    if isinstance(node, (ast.operator, ast.unaryop, ast.cmpop, ast.boolop)):
        return _operator(type(node))
    kind = type(node).__name__
    if kind in _REFUSED_NODES:
        return SandboxError(_REFUSED_NODES[kind])
    return SandboxError(_l("%(syntax)s is not allowed in expressions.", syntax=kind))


def _operator(op: type) -> SandboxError:
    return SandboxError(_l("Operator %(name)s is not allowed in expressions.", name=op.__name__))


def _underscore_name(name: str) -> SandboxError:
    return SandboxError(_l("The name %(name)s is not allowed (names may not start with '_').", name=repr(name)))


def _not_callable(functions: Mapping[str, Any]) -> SandboxError:
    return SandboxError(_l("Only these functions may be called: %(names)s", names=", ".join(sorted(functions))))


def _bad_constant() -> SandboxError:
    return SandboxError(_l("Only text, number, boolean and None constants are allowed."))


def _too_deep() -> SandboxError:
    return SandboxError(_l("The expression is nested more than %(limit)s levels deep.", limit=MAX_EXPRESSION_DEPTH))


def _depth(tree: ast.AST) -> int:
    deepest, stack = 0, [(tree, 1)]
    while stack:
        node, level = stack.pop()
        deepest = max(deepest, level)
        stack.extend((child, level + 1) for child in ast.iter_child_nodes(node))
    return deepest


def parse_expression(expression: str) -> ast.Expression:
    """Parse and statically check an expression; the lint runs this without evaluating."""
    if not isinstance(expression, str):
        raise SandboxError(_l("An expression must be text."))
    return _parsed(expression)


@lru_cache(maxsize=2048)
def _parsed(expression: str) -> ast.Expression:
    """A diagram's few expressions are evaluated on every run: parsed once per process. The
    interpreter only reads a tree, so one tree serves every evaluation; a refusal is not cached."""
    if len(expression) > MAX_EXPRESSION_CHARS:
        raise SandboxError(_l("The expression is longer than %(limit)s characters.", limit=MAX_EXPRESSION_CHARS))
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except (SyntaxError, ValueError) as err:
        raise SandboxError(_l("Syntax error: %(detail)s", detail=str(getattr(err, "msg", err)))) from None
    except (RecursionError, MemoryError):
        raise _too_deep() from None
    if _depth(tree) > MAX_EXPRESSION_DEPTH:
        raise _too_deep()
    return tree


def check_expression(expression: str, functions: Mapping[str, Callable[..., Any]]) -> None:
    """Refuse, without running it, an expression the interpreter would refuse.

    Names of data fields cannot be known before a run, so unknown plain names pass;
    everything structural (node types, calls, dunder names) is checked.
    """
    tree = parse_expression(expression)
    interpreter = _Interpreter({}, functions)
    for node in ast.walk(tree):
        kind = type(node)
        if kind in (ast.Load, ast.And, ast.Or) or kind in _BINARY or kind in _COMPARE or kind in _UNARY:
            continue
        if kind is ast.BinOp and type(node.op) not in _BINARY:
            raise _operator(type(node.op))
        if kind in (ast.Slice, ast.FormattedValue):
            continue
        if not hasattr(interpreter, "_" + kind.__name__):
            raise _refused(node)
        if kind is ast.Name and node.id.startswith("_"):
            raise _underscore_name(node.id)
        if kind is ast.Call and (not isinstance(node.func, ast.Name) or node.func.id not in functions):
            raise _not_callable(functions)
        if kind is ast.Constant and not isinstance(node.value, _CONSTANT_TYPES):
            raise _bad_constant()


def evaluate(expression: str, names: Mapping[str, Any], functions: Mapping[str, Callable[..., Any]] | None = None) -> Any:
    """Evaluate a diagram expression against task data, safely."""
    tree = parse_expression(expression)
    try:
        return _Interpreter(names, functions if functions is not None else SAFE_FUNCTIONS).eval(tree)
    except RecursionError:
        raise _too_deep() from None
