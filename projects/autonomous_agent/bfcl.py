"""BFCL (Berkeley Function Calling Leaderboard v4): loading, tool schemas, call extraction and the AST checker.

Data layout (``DIR``): ``BFCL_v4_<category>.json`` (JSON lines ``{"id", "question": [[messages of turn 1], ...],
"function": [gorilla function docs]}``) and ``possible_answer/BFCL_v4_<category>.json`` (``{"id", "ground_truth":
[{func_name: {param: [allowed values]}}, ...]}``).

Scoring follows ``bfcl_eval/eval_checker/ast_eval/ast_checker.py`` (Python categories), re-implemented here:

- a category whose name contains ``parallel`` is matched order-independently (each expected call must match a
  distinct produced call, same count); ``multiple`` = exactly one call, checked against the expected function;
  anything else (``simple_python``, ``live_simple``) = exactly one call;
- a call matches when the function name is right, every required parameter is present, every given parameter is
  known to both the function doc and the possible answer, its type is the documented one (an int is accepted for
  a ``float``; a value of the answer's own type is accepted as a "variable"), and its value is among the allowed
  values — strings compared after BFCL's ``standardize_string`` (lower case; spaces and ``,./-_*^`` removed;
  ``'`` -> ``"``), lists element-wise so, dicts key by key; a parameter the answer lists but the call omits is
  only fine when ``""`` is among its allowed values;
- ``irrelevance``: correct iff the model made no call; ``relevance`` (live): correct iff it made at least one.

Multi-turn categories are not scored here: BFCL scores them by executing the calls against its stateful Python
API simulators and comparing states and responses; the data ships only their docs (``multi_turn_func_doc/``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema

from shared.eval.harness import load_jsonl

PREFIX = "BFCL_v4_"
MULTI_TURN_SKIP_REASON = (
    "multi-turn is scored by executing calls against BFCL's stateful API simulators (GorillaFileSystem, TwitterAPI, "
    "...) and comparing the resulting state and responses; the data holds only their docs (multi_turn_func_doc/), "
    "not the implementations, so an AST match would not be BFCL's score"
)

# gorilla type names -> Python types (BFCL's PYTHON_TYPE_MAPPING) and -> JSON schema types (for the model's tools)
PYTHON_TYPES: dict[str, type] = {
    "string": str,
    "integer": int,
    "float": float,
    "boolean": bool,
    "array": list,
    "tuple": list,
    "dict": dict,
    "any": str,
}
_NESTED = ("array", "tuple")
_JSON_TYPES = {"dict": "object", "float": "number", "tuple": "array", "integer": "integer", "string": "string",
               "boolean": "boolean", "array": "array", "object": "object", "number": "number"}  # fmt: skip
_STANDARDIZE = re.compile(r"[ ,./\-_*^]")
_TOOL_NAME = re.compile(r"[^a-zA-Z0-9_-]")


# -- data ----------------------------------------------------------------------------------------------------------
@dataclass(slots=True)
class BfclItem:
    """One test: ``question`` is the list of turns (each a list of chat messages), ``ground_truth`` None when the
    category has no possible answers (irrelevance)."""

    id: str
    category: str
    question: list[list[dict[str, Any]]]
    functions: list[dict[str, Any]]
    ground_truth: list[Any] | None = None


@dataclass(slots=True)
class BfclCategory:
    name: str
    items: list[BfclItem] = field(default_factory=list)
    skipped: str | None = None  # why the category is not scored (reported in the summary, never dropped silently)


def kind_of(category: str) -> str:
    """How a category is scored: ``irrelevance``, ``relevance``, ``parallel``, ``multiple``, ``simple``, or
    ``multi_turn`` / ``unsupported`` (not scored). Tested in BFCL's order: ``parallel_multiple`` is parallel."""
    if "multi_turn" in category:
        return "multi_turn"
    if "irrelevance" in category:
        return "irrelevance"
    if "relevance" in category:
        return "relevance"
    if "java" in category or category in ("memory", "web_search", "format_sensitivity") or "memory" in category:
        return "unsupported"
    if "parallel" in category:
        return "parallel"
    if "multiple" in category:
        return "multiple"
    return "simple"


def load_bfcl(directory: str | Path, limit: int | None = None) -> list[BfclCategory]:
    """Every ``BFCL_v4_<category>.json`` in ``directory`` (sorted by name), the first ``limit`` items of each,
    joined with their possible answers by id. Categories that cannot be scored carry ``skipped`` with the reason."""
    root = Path(directory)
    categories: list[BfclCategory] = []
    for path in sorted(root.glob(f"{PREFIX}*.json")):
        name = path.stem.removeprefix(PREFIX)
        kind = kind_of(name)
        if kind == "multi_turn":
            categories.append(BfclCategory(name, skipped=MULTI_TURN_SKIP_REASON))
            continue
        if kind == "unsupported":
            categories.append(BfclCategory(name, skipped="not a Python AST category (needs another checker)"))
            continue
        answers_path = root / "possible_answer" / path.name
        answers: dict[str, list[Any]] = {}
        if kind not in ("irrelevance", "relevance"):
            if not answers_path.exists():
                categories.append(BfclCategory(name, skipped=f"no possible_answer/{path.name}"))
                continue
            answers = {row["id"]: row["ground_truth"] for row in load_jsonl(answers_path)}
        items = []
        for row in load_jsonl(path)[:limit]:
            if kind not in ("irrelevance", "relevance") and row["id"] not in answers:
                raise ValueError(f"{path}: item {row['id']} has no possible answer")
            items.append(BfclItem(row["id"], name, row["question"], row["function"], answers.get(row["id"])))
        categories.append(BfclCategory(name, items))
    return categories


# -- tool names and schemas ----------------------------------------------------------------------------------------
def tool_names(functions: list[dict[str, Any]]) -> dict[str, str]:
    """BFCL name -> a tool name OpenAI-style APIs accept (``^[a-zA-Z0-9_-]{1,64}$``: ``math.factorial`` ->
    ``math_factorial``), unique within the list; invert it to map the model's calls back."""
    out: dict[str, str] = {}
    used: set[str] = set()
    for fn in functions:
        base = _TOOL_NAME.sub("_", fn["name"])[:60] or "function"
        name, n = base, 1
        while name in used:
            n += 1
            name = f"{base[:57]}_{n}"
        used.add(name)
        out[fn["name"]] = name
    return out


def to_json_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """A gorilla parameter schema as JSON schema (``dict`` -> ``object``, ``float`` -> ``number``, ``tuple`` ->
    ``array``, ``any`` -> unconstrained), recursively; ``required`` names that are not properties are dropped."""
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "type":
            if value in _JSON_TYPES:
                out["type"] = _JSON_TYPES[value]
        elif key == "properties" and isinstance(value, dict):
            out["properties"] = {k: to_json_schema(v) for k, v in value.items() if isinstance(v, dict)}
        elif key == "items" and isinstance(value, dict):
            out["items"] = to_json_schema(value)
        elif key in ("description", "enum", "default", "required", "format", "maxItems", "minItems"):
            out[key] = value
    if "required" in out:
        props = out.get("properties", {})
        out["required"] = [r for r in out["required"] if r in props]
    return out


def validate_call(call: dict[str, Any], functions: list[dict[str, Any]]) -> str | None:
    """Why a call (``{"name", "arguments"}``, BFCL names) does not fit the function docs, or None when it does."""
    by_name = {fn["name"]: fn for fn in functions}
    name = call.get("name")
    if name not in by_name:
        return f"unknown function {name!r}; the functions are {sorted(by_name)}"
    args = call.get("arguments")
    if not isinstance(args, dict):
        return f"{name}: arguments must be a JSON object, got {type(args).__name__}"
    schema = to_json_schema(by_name[name]["parameters"])
    problems = []
    unknown = sorted(set(args) - set(schema.get("properties", {})))
    if unknown:
        problems.append(f"unknown parameter(s) {unknown}")
    for exc in sorted(jsonschema.Draft202012Validator(schema).iter_errors(args), key=lambda e: list(e.path))[:3]:
        where = "/".join(str(p) for p in exc.absolute_path)
        problems.append(f"{where + ': ' if where else ''}{exc.message}")
    return f"{name}: {'; '.join(problems)}" if problems else None


# -- extracting calls from free text (the single-shot baseline) ---------------------------------------------------
_TAGGED = re.compile(r"<tool_call>\s*(.*?)\s*(?:</tool_call>|$)", re.DOTALL)
_FENCED = re.compile(r"```(?:json)?\s*(.*?)\s*```", re.DOTALL)


def _json_values(text: str) -> list[Any]:
    """The JSON values in ``text``: tagged ``<tool_call>`` bodies, else fenced blocks, else every decodable
    top-level ``[`` / ``{`` value (scanning left to right)."""
    bodies = [m.group(1) for m in _TAGGED.finditer(text)] or [m.group(1) for m in _FENCED.finditer(text)]
    values: list[Any] = []
    for body in bodies:
        try:
            values.append(json.loads(body))
        except json.JSONDecodeError:
            continue
    if values:
        return values
    decoder = json.JSONDecoder()
    i = 0
    while i < len(text):  # every top-level value: small models write several calls as objects one after another
        if text[i] in "[{":
            try:
                value, end = decoder.raw_decode(text, i)
            except json.JSONDecodeError:
                i += 1
                continue
            values.append(value)
            i = end
        else:
            i += 1
    return values


def _as_call(obj: Any) -> dict[str, Any] | None:
    if not isinstance(obj, dict):
        return None
    if isinstance(obj.get("name"), str):
        args = obj.get("arguments", obj.get("parameters", {}))
        if isinstance(args, str):
            try:
                args = json.loads(args)
            except json.JSONDecodeError:
                return None
        return {"name": obj["name"], "arguments": args} if isinstance(args, dict) else None
    if len(obj) == 1:  # BFCL's own shape: {func_name: {params}}
        ((name, args),) = obj.items()
        if isinstance(args, dict):
            return {"name": name, "arguments": args}
    return None


def extract_calls(text: str) -> list[dict[str, Any]]:
    """Calls written as JSON in free text (``{"name", "arguments"}`` objects, a list of them, or BFCL's
    ``{name: {params}}``); extraction only — no validation, no repair. No JSON (or ``[]``) -> no calls."""
    calls: list[dict[str, Any]] = []
    for value in _json_values(text):
        for obj in value if isinstance(value, list) else [value]:
            call = _as_call(obj)
            if call is not None:
                calls.append(call)
    return calls


# -- the AST checker ------------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Check:
    valid: bool
    error: str = ""


OK = Check(True)


def standardize_string(text: str) -> str:
    """BFCL's string normalisation: ``April 1, 2024`` and ``april 1 2024`` compare equal."""
    return _STANDARDIZE.sub("", text).lower().replace("'", '"')


def _answer_type(allowed: list[Any]) -> type | None:
    for value in allowed:
        if value != "":
            return type(value)
    return None


def _type_ok(value: Any, allowed: list[Any], expected: type, nested: type | None) -> tuple[bool, bool]:
    """(type accepted, value is a "variable"). A value whose type is the allowed answers' type (when that differs
    from the documented one) is a variable name, compared literally; lists check their items one level deep."""
    answer_type = _answer_type(allowed)
    is_variable = answer_type is not None and answer_type is not expected
    if type(value) is expected:
        if nested is None:
            return True, is_variable
        for option in allowed:
            if isinstance(option, list) and not all(_type_ok(v, option, nested, None)[0] for v in value):
                continue
            return True, is_variable  # like BFCL: a non-list option (e.g. "") does not constrain the items
        return False, is_variable
    if answer_type is not None and type(value) is answer_type:
        return True, True
    return False, is_variable


def _std(value: Any) -> Any:
    return standardize_string(value) if isinstance(value, str) else value


def _dict_ok(value: dict, allowed: list[Any]) -> bool:
    for option in allowed:
        if option == "" or not isinstance(option, dict):
            continue
        if all(k in option and _std(v) in [_std(a) for a in option[k]] for k, v in value.items()) and all(
            k in value or "" in v for k, v in option.items()
        ):
            return True
    return False


def _list_of_dicts_ok(value: list, allowed: list[Any]) -> bool:
    return any(
        isinstance(option, list)
        and len(option) == len(value)
        and all(isinstance(v, dict) and _dict_ok(v, [o]) for v, o in zip(value, option, strict=True))
        for option in allowed
    )


def check_call(doc: dict[str, Any], call: dict[str, Any], expected: dict[str, Any]) -> Check:
    """One produced call (``{"name", "arguments"}``) against one expected ``{func_name: {param: [allowed]}}``,
    with ``doc`` the expected function's gorilla doc (BFCL's ``simple_function_checker``, Python)."""
    ((func_name, answer),) = expected.items()
    if call.get("name") != func_name:
        return Check(False, f"wrong function: {call.get('name')!r}, expected {func_name!r}")
    args = call.get("arguments")
    if not isinstance(args, dict):
        return Check(False, f"arguments are not an object: {args!r}")
    props = doc["parameters"].get("properties", {})
    for param in doc["parameters"].get("required", []):
        if param not in args:
            return Check(False, f"missing required parameter {param!r}")
    for param, value in args.items():
        if param not in props or param not in answer:
            return Check(False, f"unexpected parameter {param!r}")
        type_name = props[param].get("type", "any")
        expected_type = PYTHON_TYPES.get(type_name, str)
        nested = PYTHON_TYPES.get(props[param].get("items", {}).get("type", "")) if type_name in _NESTED else None
        if type_name == "float" and type(value) is int:
            value = float(value)  # Python's int -> float promotion is allowed
        allowed = answer[param]
        type_ok, is_variable = _type_ok(value, allowed, expected_type, nested)
        if not type_ok:
            return Check(False, f"wrong type for {param!r}: {type(value).__name__}, expected {type_name}")
        if not is_variable:
            if expected_type is dict:
                if not _dict_ok(value, allowed):
                    return Check(False, f"invalid value for {param!r}: {value!r}")
                continue
            if expected_type is list and nested is dict:
                if not _list_of_dicts_ok(value, allowed):
                    return Check(False, f"invalid value for {param!r}: {value!r}")
                continue
            if expected_type is str:
                if standardize_string(value) not in [standardize_string(a) for a in allowed if isinstance(a, str)]:
                    return Check(False, f"invalid value for {param!r}: {value!r}, expected one of {allowed}")
                continue
            if expected_type is list:
                options = [[_std(x) for x in a] for a in allowed if isinstance(a, list)]
                if [_std(x) for x in value] not in options:
                    return Check(False, f"invalid value for {param!r}: {value!r}, expected one of {allowed}")
                continue
        if value not in allowed:
            return Check(False, f"invalid value for {param!r}: {value!r}, expected one of {allowed}")
    for param, allowed in answer.items():
        if param not in args and "" not in allowed:
            return Check(False, f"parameter {param!r} not given and not optional")
    return OK


def _doc(functions: list[dict[str, Any]], name: str) -> dict[str, Any] | None:
    return next((fn for fn in functions if fn["name"] == name), None)


def check_item(
    category: str, functions: list[dict[str, Any]], calls: list[dict[str, Any]], ground_truth: list[Any] | None
) -> Check:
    """Score the calls a model would make for one BFCL item (names already mapped back to BFCL's)."""
    kind = kind_of(category)
    if kind == "irrelevance":
        return OK if not calls else Check(False, f"made {len(calls)} call(s) where none was relevant")
    if kind == "relevance":
        return OK if calls else Check(False, "made no call where one was relevant")
    if kind not in ("parallel", "multiple", "simple"):
        raise ValueError(f"category {category!r} is not scored by the AST checker")
    assert ground_truth is not None
    if len(calls) != len(ground_truth):
        return Check(False, f"wrong number of calls: {len(calls)}, expected {len(ground_truth)}")
    if kind != "parallel":
        doc = _doc(functions, next(iter(ground_truth[0])))
        return check_call(doc, calls[0], ground_truth[0]) if doc else Check(False, "expected function has no doc")
    matched: set[int] = set()
    for i, expected in enumerate(ground_truth):  # greedy, in answer order, as BFCL's no-order checker
        doc = _doc(functions, next(iter(expected)))
        if doc is None:
            return Check(False, "expected function has no doc")
        hit = next((j for j, c in enumerate(calls) if j not in matched and check_call(doc, c, expected).valid), None)
        if hit is None:
            return Check(False, f"no produced call matches expected call {i} ({next(iter(expected))})")
        matched.add(hit)
    return OK
