"""Function synthesis for the HumanEval / MBPP evaluation: tasks, prompts, code extraction, test programs.

The instruct model is asked in chat form for a whole function in a ```python block (what Qwen2.5-Coder-Instruct
was tuned for; completing the bare prompt as raw text scores lower with the instruct checkpoints). The test
program is always assembled by this module from the dataset's own tests, never from model output, so a model
cannot "pass" by printing or by redefining ``check``: it runs in the sandbox as one file.
"""

from __future__ import annotations

import gzip
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from shared.serving.types import ChatMessage, ChatRequest

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


def chat_request(task: CodeTask, *, temperature: float = 0.0, seed: int | None = None, max_tokens: int = 512):
    """The chat request for one task (greedy unless sampling for pass@k)."""
    if task.dataset == "humaneval":
        user = (
            "Complete the following Python function. Return the complete function (with its imports) in one "
            f"```python code block.\n```python\n{task.prompt.rstrip()}\n```"
        )
    else:
        first_test = task.tests.splitlines()[0] if task.tests else ""
        user = (
            f"{task.prompt.strip()}\nWrite the Python function `{task.entry_point}`. Your code should pass this "
            f"test:\n```python\n{first_test}\n```\nReturn the function in one ```python code block."
        )
    return ChatRequest(
        messages=[ChatMessage.user(user)],
        system=SYSTEM,
        temperature=temperature,
        seed=seed,
        max_tokens=max_tokens,
    )


def extract_code(text: str) -> str:
    """The model's code: the fenced block defining the most functions (or the longest), else the raw text."""
    blocks = [b.strip("\n") for b in _FENCE.findall(text)]
    if not blocks:
        return text.strip("\n")
    return max(blocks, key=lambda b: (len(re.findall(r"^\s*def ", b, re.MULTILINE)), len(b)))


def _header(prompt: str) -> str:
    """The prompt's imports and helper code, kept so a completion that omits them still runs."""
    lines = []
    for line in prompt.splitlines():
        if line.startswith(("import ", "from ")):
            lines.append(line)
    return "\n".join(lines)


def solution_source(task: CodeTask, completion: str) -> str:
    """A runnable module defining ``entry_point`` from the model's answer.

    HumanEval: when the answer restates the function it is used as-is (plus the prompt's imports); when it is
    only a body, it is appended to the prompt. HumanEval prompts may define helpers the model does not repeat
    (HumanEval/38 ``encode_cyclic``), so the prompt is kept in front and the answer's ``def`` overrides it.
    """
    code = extract_code(completion)
    if task.dataset == "mbpp":
        return code
    if re.search(rf"^\s*def\s+{re.escape(task.entry_point)}\s*\(", code, re.MULTILINE):
        return f"{_header(task.prompt)}\n{task.prompt}    pass\n\n{code}"
    return task.prompt + code


def test_program(task: CodeTask, solution: str) -> str:
    """One file: setup, the solution, then the dataset's tests."""
    if task.dataset == "humaneval":
        return f"{solution}\n\n{task.tests}\n\ncheck({task.entry_point})\n"
    return f"{task.setup}\n{solution}\n\n{task.tests}\n"
