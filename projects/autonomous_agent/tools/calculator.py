"""``calculator``: exact arithmetic without ``eval``.

Small models make arithmetic slips; a calculator call is cheaper than a sandboxed Python run (no process) and
cannot do anything but arithmetic: the expression is parsed with ``ast`` and only number literals, the operators
``+ - * / // % **``, unary signs, parentheses and a few named functions/constants are evaluated. Sizes are bounded
before they are computed (``9**9**9`` would take minutes and gigabytes), so a call returns in microseconds.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable
from typing import Any, ClassVar

from projects.autonomous_agent.types import Permission, ToolContext, ToolResult

MAX_EXPRESSION_CHARS = 1000
MAX_RESULT_BITS = 13_000  # ~3900 decimal digits: beyond any sensible answer, below int->str's 4300-digit limit
MAX_EXPONENT = 10_000

Number = int | float

_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY: dict[type[ast.unaryop], Callable[[Any], Any]] = {ast.UAdd: operator.pos, ast.USub: operator.neg}


def _log(x: Number, base: Number | None = None) -> float:
    return math.log(x) if base is None else math.log(x, base)


def _round(x: Number, ndigits: int | None = None) -> Number:
    return round(x) if ndigits is None else round(x, int(ndigits))


FUNCTIONS: dict[str, Callable[..., Number]] = {
    "sqrt": math.sqrt,
    "log": _log,
    "log10": math.log10,
    "log2": math.log2,
    "exp": math.exp,
    "sin": math.sin,
    "cos": math.cos,
    "tan": math.tan,
    "floor": math.floor,
    "ceil": math.ceil,
    "round": _round,
    "abs": abs,
    "min": min,
    "max": max,
}
CONSTANTS: dict[str, float] = {"pi": math.pi, "e": math.e, "tau": math.tau}


class CalculatorError(ValueError):
    """An expression the calculator refuses or cannot compute; the message says which part."""


def _bits(x: Number) -> float:
    if isinstance(x, int):
        return max(abs(x).bit_length(), 1)
    return 64.0


def _check_size(op: type[ast.operator], left: Number, right: Number) -> None:
    """Refuse operations whose *result* would be huge, before computing it."""
    if op is ast.Pow:
        if isinstance(right, int | float) and abs(right) > MAX_EXPONENT and abs(left) not in (0, 1):
            raise CalculatorError(f"exponent {right} is too large (the limit is {MAX_EXPONENT})")
        exact = isinstance(left, int) and isinstance(right, int) and right > 0 and abs(left) > 1
        if exact and math.log2(abs(left)) * right > MAX_RESULT_BITS:
            raise CalculatorError(f"the result of {left}**{right} would have more than {MAX_RESULT_BITS} bits")
    elif op is ast.Mult and isinstance(left, int) and isinstance(right, int):
        big = _bits(left) + _bits(right) > MAX_RESULT_BITS
        if big:
            raise CalculatorError(f"the product would have more than {MAX_RESULT_BITS} bits")


def _eval(node: ast.AST) -> Number:
    if isinstance(node, ast.Expression):
        return _eval(node.body)
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, int | float):
            raise CalculatorError(f"only numbers are allowed, not {node.value!r}")
        return node.value
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _eval(node.left), _eval(node.right)
        _check_size(type(node.op), left, right)
        result = _BINARY[type(node.op)](left, right)
        if isinstance(result, complex):
            raise CalculatorError("the result is a complex number (e.g. a fractional power of a negative number)")
        return result
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_eval(node.operand))
    if isinstance(node, ast.Name):
        if node.id in CONSTANTS:
            return CONSTANTS[node.id]
        raise CalculatorError(f"unknown name {node.id!r}; constants: {', '.join(CONSTANTS)}")
    if isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
            name = node.func.id if isinstance(node.func, ast.Name) else ast.unparse(node.func)
            raise CalculatorError(f"unknown function {name!r}; functions: {', '.join(FUNCTIONS)}")
        if node.keywords:
            raise CalculatorError("keyword arguments are not supported")
        return FUNCTIONS[node.func.id](*[_eval(a) for a in node.args])
    raise CalculatorError(f"unsupported syntax: {ast.unparse(node)!r} (numbers, + - * / // % **, parentheses)")


def evaluate(expression: str) -> Number:
    """The value of ``expression`` or :class:`CalculatorError` with a message the model can act on."""
    text = expression.strip().replace("^", "**").replace("×", "*").replace("÷", "/")
    if not text:
        raise CalculatorError("empty expression")
    if len(text) > MAX_EXPRESSION_CHARS:
        raise CalculatorError(f"expression longer than {MAX_EXPRESSION_CHARS} characters")
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        raise CalculatorError(f"syntax error at column {exc.offset}: {exc.msg}") from None
    try:
        return _eval(tree)
    except CalculatorError:
        raise
    except ZeroDivisionError:
        raise CalculatorError("division by zero") from None
    except OverflowError:
        raise CalculatorError("the result is too large for a floating-point number") from None
    except (ValueError, TypeError) as exc:
        raise CalculatorError(f"math error: {exc}") from None


def format_number(value: Number) -> str:
    """Integers exactly; floats without binary noise (0.1+0.2 -> 0.3), integral floats as integers."""
    if isinstance(value, int):
        return str(value)
    if math.isfinite(value) and value == int(value) and abs(value) < 1e16:
        return str(int(value))
    return f"{value:.12g}"


class CalculatorTool:
    name = "calculator"
    description = (
        "Evaluate an arithmetic expression exactly, e.g. '(17*3 + 4) / 5' or 'sqrt(2) * 10**3'. Supports + - * / "
        "// % ** and parentheses, and sqrt, log, log10, log2, exp, sin, cos, tan, floor, ceil, round, abs, min, "
        "max, pi, e."
    )
    permission: Permission = "compute"
    parameters: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {"expression": {"type": "string", "minLength": 1, "description": "the arithmetic expression"}},
        "required": ["expression"],
        "additionalProperties": False,
    }

    def run(self, arguments: dict[str, Any], ctx: ToolContext) -> ToolResult:
        try:
            value = evaluate(arguments["expression"])
        except CalculatorError as exc:
            return ToolResult(ok=False, error=str(exc))
        text = format_number(value)
        return ToolResult(ok=True, output=text, data={"value": value if isinstance(value, float) else text})
