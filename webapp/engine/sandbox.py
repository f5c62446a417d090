"""Everything a diagram asks us to evaluate runs here, and nowhere else (DESIGN rule 6).

SpiffWorkflow evaluates conditions, timer expressions and service parameters with plain
``eval`` and scripts with ``exec``; RestrictedPython's ``safe_globals`` alone is escapable
(notes/spiffworkflow-3.2.md §4). So:

* expressions go through :func:`evaluate`, an interpreter over a whitelist of AST nodes:
  no attribute access, no lambdas or comprehensions, no names starting with ``_``, calls
  only to registered functions, and size caps on anything that could allocate without bound;
* scripts go through :func:`run_script`: RestrictedPython compilation, guarded attribute
  access limited to a few harmless methods per type, guarded ``*``/``**``/``<<``, a bounded
  ``range`` and a wall-clock limit enforced line by line.

Errors raise :class:`SandboxError` with a message a process owner can act on.
"""
from __future__ import annotations

import ast
import json
import operator
import sys
import time
from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Any

from RestrictedPython import compile_restricted_exec
from RestrictedPython.Guards import full_write_guard, guarded_iter_unpack_sequence, guarded_unpack_sequence
from RestrictedPython.transformer import RestrictingNodeTransformer

MAX_EXPRESSION_CHARS = 2000
MAX_SCRIPT_CHARS = 20_000
MAX_SEQUENCE = 100_000  # elements or characters in any value an expression or script builds
MAX_DATA_BYTES = 1_000_000  # serialized task data after a script


class SandboxError(ValueError):
    """A diagram expression or script tried something the sandbox refuses."""


# --- expressions -------------------------------------------------------------------------

_BINARY: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
}
_COMPARE: dict[type, Callable[[Any, Any], bool]] = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
    ast.Gt: operator.gt, ast.GtE: operator.ge, ast.Is: operator.is_, ast.IsNot: operator.is_not,
    ast.In: lambda a, b: a in b, ast.NotIn: lambda a, b: a not in b,
}
_UNARY: dict[type, Callable[[Any], Any]] = {ast.Not: operator.not_, ast.USub: operator.neg, ast.UAdd: operator.pos}
_CONSTANT_TYPES = (str, int, float, bool, type(None))
_SUBSCRIPTABLE = (dict, list, tuple, str)


def _bounded_range(*args: int) -> range:
    r = range(*args)
    if len(r) > MAX_SEQUENCE:
        raise SandboxError(f"range of {len(r)} elements exceeds the limit of {MAX_SEQUENCE}")
    return r


SAFE_FUNCTIONS: dict[str, Callable[..., Any]] = {
    f.__name__: f for f in (len, min, max, abs, round, int, float, str, bool, any, all, sum, sorted)
}
SAFE_FUNCTIONS["range"] = _bounded_range


def _check_size(value: Any) -> Any:
    if isinstance(value, (str, list, tuple, dict, set)) and len(value) > MAX_SEQUENCE:
        raise SandboxError(f"a value of {len(value)} elements exceeds the limit of {MAX_SEQUENCE}")
    if isinstance(value, int) and value.bit_length() > 4096:
        raise SandboxError("number too large")
    return value


def _multiply(left: Any, right: Any) -> Any:
    """``*`` with the size of a repeated sequence checked *before* it is built."""
    for seq, count in ((left, right), (right, left)):
        if isinstance(seq, (str, list, tuple)) and isinstance(count, int):
            if len(seq) * max(count, 0) > MAX_SEQUENCE:
                raise SandboxError(f"repeating a sequence {count} times exceeds the limit of {MAX_SEQUENCE}")
    if isinstance(left, int) and isinstance(right, int) and left.bit_length() + right.bit_length() > 4096:
        raise SandboxError("number too large")
    return left * right


def _binary(op: type, left: Any, right: Any) -> Any:
    if op is ast.Mult:
        return _multiply(left, right)
    if op is ast.Add and isinstance(left, (str, list, tuple)) and isinstance(right, (str, list, tuple)):
        if len(left) + len(right) > MAX_SEQUENCE:
            raise SandboxError(f"a value longer than {MAX_SEQUENCE} elements is not allowed")
    return _check_size(_BINARY[op](left, right))


class _Interpreter:
    def __init__(self, names: Mapping[str, Any], functions: Mapping[str, Callable[..., Any]]):
        self.names = names
        self.functions = functions

    def eval(self, node: ast.AST) -> Any:
        method = getattr(self, "_" + type(node).__name__, None)
        if method is None:
            raise SandboxError(f"{_describe(node)} is not allowed in expressions")
        return method(node)

    def _Expression(self, node: ast.Expression) -> Any:
        return self.eval(node.body)

    def _Constant(self, node: ast.Constant) -> Any:
        if not isinstance(node.value, _CONSTANT_TYPES):
            raise SandboxError("only text, number, boolean and None constants are allowed")
        return node.value

    def _Name(self, node: ast.Name) -> Any:
        name = node.id
        if name.startswith("_"):
            raise SandboxError(f"the name {name!r} is not allowed (names may not start with '_')")
        if name in self.names:
            return self.names[name]
        if name in self.functions:
            return self.functions[name]
        raise NameError(f"name {name!r} is not defined")

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
            raise SandboxError(f"operator {op.__name__} is not allowed")
        return _UNARY[op](self.eval(node.operand))

    def _BinOp(self, node: ast.BinOp) -> Any:
        op = type(node.op)
        if op not in _BINARY:
            raise SandboxError(f"operator {op.__name__} is not allowed in expressions")
        return _binary(op, self.eval(node.left), self.eval(node.right))

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
        return tuple(self.eval(e) for e in node.elts)

    def _List(self, node: ast.List) -> list:
        return [self.eval(e) for e in node.elts]

    def _Set(self, node: ast.Set) -> set:
        return {self.eval(e) for e in node.elts}

    def _Dict(self, node: ast.Dict) -> dict:
        if any(k is None for k in node.keys):
            raise SandboxError("dictionary unpacking (**) is not allowed")
        return {self.eval(k): self.eval(v) for k, v in zip(node.keys, node.values)}

    def _Subscript(self, node: ast.Subscript) -> Any:
        container = self.eval(node.value)
        if not isinstance(container, _SUBSCRIPTABLE):
            raise SandboxError("only text, lists, tuples and dictionaries can be indexed")
        if isinstance(node.slice, ast.Slice):
            parts = (node.slice.lower, node.slice.upper, node.slice.step)
            return container[slice(*(self.eval(p) if p is not None else None for p in parts))]
        return container[self.eval(node.slice)]

    def _Call(self, node: ast.Call) -> Any:
        if not isinstance(node.func, ast.Name) or node.func.id not in self.functions:
            raise SandboxError(f"only these functions may be called: {', '.join(sorted(self.functions))}")
        if node.keywords or any(isinstance(a, ast.Starred) for a in node.args):
            raise SandboxError("keyword and * arguments are not allowed in expressions")
        return _check_size(self.functions[node.func.id](*(self.eval(a) for a in node.args)))

    def _JoinedStr(self, node: ast.JoinedStr) -> str:
        parts = []
        for value in node.values:
            if isinstance(value, ast.Constant):
                parts.append(str(value.value))
            elif isinstance(value, ast.FormattedValue) and value.conversion == -1 and value.format_spec is None:
                parts.append(str(self.eval(value.value)))
            else:
                raise SandboxError("format conversions and format specs are not allowed in f-strings")
        return _check_size("".join(parts))


def _describe(node: ast.AST) -> str:
    labels = {
        "Attribute": "attribute access (a.b)", "Lambda": "lambda", "ListComp": "a list comprehension",
        "DictComp": "a dict comprehension", "SetComp": "a set comprehension",
        "GeneratorExp": "a generator expression", "NamedExpr": "assignment (:=)", "Await": "await",
        "Yield": "yield", "Starred": "unpacking (*)",
    }
    return labels.get(type(node).__name__, type(node).__name__)


def parse_expression(expression: str) -> ast.Expression:
    """Parse and statically check an expression; the lint runs this without evaluating."""
    if not isinstance(expression, str):
        raise SandboxError("an expression must be text")
    if len(expression) > MAX_EXPRESSION_CHARS:
        raise SandboxError(f"expression longer than {MAX_EXPRESSION_CHARS} characters")
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except SyntaxError as err:
        raise SandboxError(f"syntax error: {err.msg}") from None
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
            raise SandboxError(f"operator {type(node.op).__name__} is not allowed in expressions")
        if kind in (ast.Slice, ast.FormattedValue):
            continue
        if not hasattr(interpreter, "_" + kind.__name__):
            raise SandboxError(f"{_describe(node)} is not allowed in expressions")
        if kind is ast.Name and node.id.startswith("_"):
            raise SandboxError(f"the name {node.id!r} is not allowed (names may not start with '_')")
        if kind is ast.Call and (not isinstance(node.func, ast.Name) or node.func.id not in functions):
            raise SandboxError(f"only these functions may be called: {', '.join(sorted(functions))}")
        if kind is ast.Constant and not isinstance(node.value, _CONSTANT_TYPES):
            raise SandboxError("only text, number, boolean and None constants are allowed")


def evaluate(expression: str, names: Mapping[str, Any], functions: Mapping[str, Callable[..., Any]] | None = None) -> Any:
    """Evaluate a diagram expression against task data, safely."""
    tree = parse_expression(expression)
    return _Interpreter(names, functions if functions is not None else SAFE_FUNCTIONS).eval(tree)


# --- scripts -----------------------------------------------------------------------------

_ALLOWED_METHODS: dict[type, frozenset[str]] = {
    str: frozenset({"lower", "upper", "strip", "lstrip", "rstrip", "split", "startswith", "endswith",
                    "replace", "join", "isdigit", "isalnum", "find", "count"}),
    list: frozenset({"append", "extend", "pop", "insert", "index", "count", "sort", "remove", "reverse", "copy"}),
    dict: frozenset({"get", "keys", "values", "items", "update", "pop", "setdefault", "copy"}),
    tuple: frozenset({"index", "count"}),
    date: frozenset({"year", "month", "day", "isoformat", "weekday"}),
    datetime: frozenset({"year", "month", "day", "hour", "minute", "isoformat", "weekday", "date"}),
}


def _guarded_getattr(obj: Any, name: str, default: Any = None) -> Any:
    allowed = _ALLOWED_METHODS.get(type(obj), frozenset())
    if name not in allowed:
        raise SandboxError(f"attribute {name!r} of {type(obj).__name__} is not available in scripts")
    attr = getattr(obj, name)
    if type(obj) is str and name == "replace":
        def replace(old: str, new: str, count: int = -1) -> str:
            if len(new) > len(old) and obj.count(old) * (len(new) - len(old)) + len(obj) > MAX_SEQUENCE:
                raise SandboxError(f"a value longer than {MAX_SEQUENCE} characters is not allowed")
            return obj.replace(old, new, count)
        return replace
    return attr


def _guarded_getitem(obj: Any, key: Any) -> Any:
    if not isinstance(obj, _SUBSCRIPTABLE):
        raise SandboxError("only text, lists, tuples and dictionaries can be indexed")
    return obj[key]


def _guarded_iter(obj: Any) -> Any:
    if not isinstance(obj, (list, tuple, dict, str, set, range)):
        raise SandboxError(f"cannot iterate over {type(obj).__name__}")
    return iter(obj)


_INPLACE: dict[str, type] = {"+=": ast.Add, "-=": ast.Sub, "*=": ast.Mult, "/=": ast.Div,
                             "//=": ast.FloorDiv, "%=": ast.Mod}


def _inplace(op: str, target: Any, value: Any) -> Any:
    if op not in _INPLACE:
        raise SandboxError(f"operator {op} is not allowed in scripts")
    return _binary(_INPLACE[op], target, value)


def _binop(op_name: str, left: Any, right: Any) -> Any:
    return _binary({"Mult": ast.Mult, "Add": ast.Add}[op_name], left, right)


class _ScriptPolicy(RestrictingNodeTransformer):
    """RestrictedPython's policy, plus: ``*`` and ``+`` go through size checks; ``**``, ``<<``,
    class definitions, imports and ``global``/``nonlocal`` are refused."""

    def visit_BinOp(self, node: ast.BinOp) -> Any:
        node = self.node_contents_visit(node)
        if isinstance(node.op, (ast.Pow, ast.LShift, ast.MatMult)):
            self.error(node, f"operator {type(node.op).__name__} is not allowed in scripts")
            return node
        if isinstance(node.op, (ast.Mult, ast.Add)):
            call = ast.Call(func=ast.Name("_binop_", ast.Load()),
                            args=[ast.Constant(type(node.op).__name__), node.left, node.right], keywords=[])
            return ast.copy_location(call, node)
        return node

    def visit_ClassDef(self, node: ast.ClassDef) -> Any:
        self.error(node, "class definitions are not allowed in scripts")
        return node

    def visit_Import(self, node: ast.Import) -> Any:
        self.error(node, "import is not allowed in scripts")
        return node

    visit_ImportFrom = visit_Import

    def visit_Global(self, node: ast.Global) -> Any:
        self.error(node, "global is not allowed in scripts")
        return node

    visit_Nonlocal = visit_Global


_SCRIPT_BUILTINS: dict[str, Any] = {
    "None": None, "True": True, "False": False,
    "isinstance": isinstance, "ValueError": ValueError, "KeyError": KeyError,
    "dict": dict, "list": list, "tuple": tuple, "set": set, "enumerate": enumerate, "zip": zip,
    **SAFE_FUNCTIONS,
}


class _Deadline:
    """A trace function that stops a script after ``seconds`` of wall-clock time.

    ``sys.settrace`` works in any thread, unlike SIGALRM, so web workers and the timer
    worker are both covered. Only the script's own frames are traced.
    """

    def __init__(self, seconds: float):
        self.deadline = time.monotonic() + seconds
        self.seconds = seconds

    def __call__(self, frame: Any, event: str, arg: Any) -> Any:
        if frame.f_code.co_filename != "<script>":
            return None
        if time.monotonic() > self.deadline:
            raise SandboxError(f"script exceeded its time limit of {self.seconds:g} s")
        return self


def check_script(script: str) -> Any:
    """Compile a script under the policy; raise :class:`SandboxError` listing every refusal."""
    if len(script) > MAX_SCRIPT_CHARS:
        raise SandboxError(f"script longer than {MAX_SCRIPT_CHARS} characters")
    result = compile_restricted_exec(script, filename="<script>", policy=_ScriptPolicy)
    if result.errors:
        raise SandboxError("; ".join(result.errors))
    return result.code


def run_script(script: str, context: dict[str, Any], functions: Mapping[str, Callable[..., Any]] | None = None,
               time_limit: float = 1.0) -> None:
    """Run a script task or pre/post script, updating ``context`` (the task data) in place."""
    code = check_script(script)
    functions = dict(functions or {})
    clash = set(context) & set(functions)
    if clash:
        raise SandboxError(f"task data uses the reserved name(s): {', '.join(sorted(clash))}")
    namespace: dict[str, Any] = {
        "__builtins__": {**_SCRIPT_BUILTINS, **functions},
        "_getattr_": _guarded_getattr, "_getitem_": _guarded_getitem, "_getiter_": _guarded_iter,
        "_write_": full_write_guard, "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
        "_unpack_sequence_": guarded_unpack_sequence, "_inplacevar_": _inplace, "_binop_": _binop,
        **context,
    }
    previous = sys.gettrace()
    sys.settrace(_Deadline(time_limit))
    try:
        exec(code, namespace)  # noqa: S102 - compiled by RestrictedPython under _ScriptPolicy
    finally:
        sys.settrace(previous)
    updated = {k: v for k, v in namespace.items()
               if not k.startswith("_") and not callable(v) and k not in functions}
    try:
        size = len(json.dumps(updated, default=str))
    except (TypeError, ValueError) as err:
        raise SandboxError(f"script left data that cannot be stored: {err}") from None
    if size > MAX_DATA_BYTES:
        raise SandboxError(f"script left {size} bytes of data, more than {MAX_DATA_BYTES}")
    context.clear()
    context.update(updated)
