"""Hand-written HumanEval- and MBPP-format tasks (the real datasets are never read by tests)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

HUMANEVAL = [
    {
        "task_id": "Toy/0",
        "prompt": "from typing import List\n\n\ndef total(xs: List[int]) -> int:\n"
        '    """Sum of xs.\n    >>> total([1, 2])\n    3\n    """\n',
        "canonical_solution": "    return sum(xs)\n",
        "test": "\n\ndef check(candidate):\n    assert candidate([1, 2, 3]) == 6\n    assert candidate([]) == 0\n",
        "entry_point": "total",
    },
    {
        "task_id": "Toy/1",
        "prompt": "import math\n\n\ndef _helper(x):\n    return x * 2\n\n\ndef double_root(x: float) -> float:\n"
        '    """Twice the square root of x (uses _helper)."""\n',
        "canonical_solution": "    return _helper(math.sqrt(x))\n",
        "test": "\n\ndef check(candidate):\n    assert candidate(4) == 4.0\n    assert candidate(9) == 6.0\n",
        "entry_point": "double_root",
    },
    {
        "task_id": "Toy/2",
        "prompt": 'def shout(s: str) -> str:\n    """Upper-case s and add "!"."""\n',
        "canonical_solution": '    return s.upper() + "!"\n',
        "test": "\n\ndef check(candidate):\n    assert candidate('hi') == 'HI!'\n",
        "entry_point": "shout",
    },
]

MBPP = [
    {
        "task_id": 901,
        "text": "Write a function to find the maximum of two numbers.",
        "code": "def max_of_two(a, b):\r\n    return a if a > b else b",
        "test_list": ["assert max_of_two(1, 2) == 2", "assert max_of_two(5, 3) == 5", "assert max_of_two(4, 4) == 4"],
        "test_setup_code": "",
        "challenge_test_list": [],
    },
    {
        "task_id": 902,
        "text": "Write a function that scales every value by FACTOR (defined by the setup code).",
        "code": "def scale(xs):\r\n    return [x * FACTOR for x in xs]",
        "test_list": ["assert scale([1, 2]) == [3, 6]", "assert set(scale([0])) == {0}"],
        "test_setup_code": "FACTOR = 3",
        "challenge_test_list": [],
    },
]


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    text = "".join(json.dumps(r) + "\n" for r in rows)
    if path.suffix == ".gz":
        with gzip.open(path, "wt", encoding="utf-8") as f:
            f.write(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path
