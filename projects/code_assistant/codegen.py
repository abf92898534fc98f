"""Function synthesis for the HumanEval / MBPP evaluation: tasks, prompts, code extraction, test programs.

The instruct model is asked in chat form for a whole function in a ```python block (what Qwen2.5-Coder-Instruct
was tuned for; completing the bare prompt as raw text scores lower with the instruct checkpoints). The test
program is always assembled by this module from the dataset's own tests, never from model output, so a model
cannot "pass" by printing or by redefining ``check``: it runs in the sandbox as one file.
"""

from __future__ import annotations

import ast
import gzip
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from shared.serving.types import ChatRequest

Dataset = Literal["humaneval", "mbpp"]

SYSTEM = "You are an expert Python programmer. Answer with code only."
_FENCE = re.compile(r"```(?:python|py|Python)?[ \t]*\n(.*?)(?:```|\Z)", re.DOTALL)


@dataclass(frozen=True, slots=True)
class CodeTask:
    task_id: str
    dataset: Dataset
    prompt: str  # HumanEval: signature + docstring; MBPP: the problem statement
    entry_point: str
    tests: str  # HumanEval: the check() function; MBPP: assert lines
    setup: str = ""  # MBPP test_setup_code
    reference: str = ""  # canonical solution (tests of the harness itself run it)


def read_jsonl(path: Path) -> list[dict]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def load_humaneval(path: Path) -> list[CodeTask]:
    return [
        CodeTask(
            task_id=str(r["task_id"]),
            dataset="humaneval",
            prompt=r["prompt"],
            entry_point=r["entry_point"],
            tests=r["test"],
            reference=r["prompt"] + r.get("canonical_solution", ""),
        )
        for r in read_jsonl(path)
    ]


def _mbpp_entry_point(row: dict) -> str:
    """The function the asserts call (``assert min_cost(...) == 8`` → ``min_cost``)."""
    for line in row["test_list"]:
        m = re.search(r"assert\s+(?:not\s+)?\(?\s*(?:set\()?\s*(?:math\.isclose\()?([A-Za-z_]\w*)\s*\(", line)
        if m:
            return m.group(1)
    m = re.search(r"def\s+([A-Za-z_]\w*)", row.get("code", ""))
    return m.group(1) if m else "solution"


def load_mbpp(path: Path) -> list[CodeTask]:
    return [
        CodeTask(
            task_id=f"MBPP/{r['task_id']}",
            dataset="mbpp",
            prompt=r["text"],
            entry_point=_mbpp_entry_point(r),
            tests="\n".join(r["test_list"]),
            setup=r.get("test_setup_code") or "",
            reference=r.get("code", "").replace("\r\n", "\n"),
        )
        for r in read_jsonl(path)
    ]


def _chatml(system: str, user: str, answer_prefix: str) -> str:
    """A ChatML conversation (Qwen2.5's chat template) with the assistant's turn started by ``answer_prefix``."""
    return (
        f"<|im_start|>system\n{system}<|im_end|>\n<|im_start|>user\n{user}<|im_end|>\n"
        f"<|im_start|>assistant\n{answer_prefix}"
    )


def answer_prefix(task: CodeTask) -> str:
    """What the assistant's answer starts with: a code fence, and for HumanEval the prompt itself.

    Starting the answer inside the function means the model writes only the body (it does not restate the
    signature and docstring, which is most of the tokens of a restated HumanEval answer) and cannot rename the
    function; generation stops at the closing fence (``STOP``), so no explanation is decoded either.
    """
    return "```python\n" + (task.prompt if task.dataset == "humaneval" else "")


STOP = ["\n```"]


def user_message(task: CodeTask) -> str:
    if task.dataset == "humaneval":
        return (
            "Complete the following Python function. Return the complete function (with its imports) in one "
            f"```python code block.\n```python\n{task.prompt.rstrip()}\n```"
        )
    first_test = task.tests.splitlines()[0] if task.tests else ""  # MBPP's customary prompt: one example test
    return (
        f"{task.prompt.strip()}\nWrite the Python function `{task.entry_point}`. Your code should pass this "
        f"test:\n```python\n{first_test}\n```\nReturn the function (with its imports) in one ```python code block."
    )


def chat_request(
    task: CodeTask, *, temperature: float = 0.0, seed: int | None = None, max_tokens: int = 384
) -> ChatRequest:
    """The request for one task (greedy unless sampling for pass@k): a raw completion of a ChatML conversation.

    Raw rather than chat so the answer can be started for the model (``answer_prefix``); the text is the
    instruct model's own chat format, so this is what a chat request would send plus the prefix. The completion
    is the continuation: :func:`solution_source` puts the prefix back in front.
    """
    return ChatRequest.completion(
        _chatml(SYSTEM, user_message(task), answer_prefix(task)),
        temperature=temperature,
        top_p=0.95 if temperature > 0 else 1.0,
        seed=seed,
        max_tokens=max_tokens,
        stop=STOP,
    )


def extract_code(text: str) -> str:
    """The model's code: its fenced blocks that define or import something, in order, else the longest block.

    Concatenated rather than picked so that a later block restating a function overrides the earlier one (as
    Python would) while helpers from the earlier block are kept; with no fence at all, the raw text.
    """
    blocks = [b.strip("\n") for b in _FENCE.findall(text)]
    if not blocks:
        return text.strip("\n")
    code = [b for b in blocks if re.search(r"^\s*(?:def|class|import|from)\s", b, re.MULTILINE)]
    return "\n\n".join(code) if code else max(blocks, key=len)


def _header(prompt: str) -> str:
    """The prompt's imports and helper code, kept so a completion that omits them still runs."""
    lines = []
    for line in prompt.splitlines():
        if line.startswith(("import ", "from ")):
            lines.append(line)
    return "\n".join(lines)


_KEEP = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Try)
_ASSIGN = (ast.Assign, ast.AnnAssign, ast.AugAssign)


def sanitize(code: str) -> str:
    """Keep the definitions, drop the model's own demo code (``print(f(3))``, ``assert f(1) == 2``, ``__main__``).

    Small models often append examples; a wrong example assert would make a correct function count as wrong,
    and an ``input()`` or an endless demo loop would time out. Kept: imports, functions, classes, ``try`` blocks
    (guarded imports), and assignments that call nothing the answer defines (constants such as ``R = 3``).
    Code that does not parse is returned unchanged, so the syntax error is what gets reported.
    """
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return code
    defined = {n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)}

    def calls_own(node: ast.AST) -> bool:
        return any(
            isinstance(c, ast.Call) and isinstance(c.func, ast.Name) and c.func.id in defined for c in ast.walk(node)
        )

    lines = code.splitlines()
    kept = []
    for node in tree.body:
        if isinstance(node, _KEEP) or (isinstance(node, _ASSIGN) and not calls_own(node)):
            start = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
            kept.append("\n".join(lines[start - 1 : node.end_lineno]))
    return "\n\n".join(kept) + "\n"


def solution_source(task: CodeTask, completion: str) -> str:
    """A runnable module defining ``entry_point`` from the model's continuation of :func:`answer_prefix`.

    The answer prefix is put back in front (for HumanEval it holds the prompt, so the body lands inside the
    function), the code block is extracted and sanitised. If the code still lacks the entry point (the model
    wrote something else), HumanEval's prompt is kept in front, so the failure is the tests' verdict.
    """
    code = sanitize(extract_code(answer_prefix(task) + completion))
    if task.dataset == "mbpp" or re.search(rf"^def\s+{re.escape(task.entry_point)}\s*\(", code, re.MULTILINE):
        return code
    return f"{_header(task.prompt)}\n{task.prompt}    pass\n\n{code}"


def test_program(task: CodeTask, solution: str) -> str:
    """One file: setup, the solution, then the dataset's tests."""
    if task.dataset == "humaneval":
        return f"{solution}\n\n{task.tests}\n\ncheck({task.entry_point})\n"
    return f"{task.setup}\n{solution}\n\n{task.tests}\n"
