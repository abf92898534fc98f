"""Task loading, prompts, code extraction/sanitising and test programs for HumanEval / MBPP (no model)."""

from __future__ import annotations

from pathlib import Path

from projects.code_assistant import codegen
from projects.code_assistant.tests.toy_tasks import HUMANEVAL, MBPP, write_jsonl


def _he(tmp_path: Path) -> list[codegen.CodeTask]:
    return codegen.load_humaneval(write_jsonl(tmp_path / "he.jsonl.gz", HUMANEVAL))


def _mbpp(tmp_path: Path) -> list[codegen.CodeTask]:
    return codegen.load_mbpp(write_jsonl(tmp_path / "mbpp.jsonl", MBPP))


def test_loaders_read_both_formats(tmp_path: Path) -> None:
    he, mbpp = _he(tmp_path), _mbpp(tmp_path)
    assert [t.task_id for t in he] == ["Toy/0", "Toy/1", "Toy/2"] and he[0].entry_point == "total"
    assert he[0].reference == HUMANEVAL[0]["prompt"] + HUMANEVAL[0]["canonical_solution"]
    assert [(t.task_id, t.entry_point) for t in mbpp] == [("MBPP/901", "max_of_two"), ("MBPP/902", "scale")]
    assert mbpp[1].setup == "FACTOR = 3" and "\r" not in mbpp[0].reference


def test_mbpp_entry_point_from_wrapped_asserts() -> None:
    row = {"test_list": ["assert set(similar((1, 2), (2, 3))) == {2}"], "code": "def other(): pass"}
    assert codegen._mbpp_entry_point(row) == "similar"
    row = {"test_list": ["assert math.isclose(area(2), 12.56, rel_tol=0.01)"], "code": ""}
    assert codegen._mbpp_entry_point(row) == "area"


def test_prompts_show_no_hidden_tests(tmp_path: Path) -> None:
    he, mbpp = _he(tmp_path)[0], _mbpp(tmp_path)[0]
    he_req = codegen.chat_request(he)
    assert he_req.is_completion and he_req.stop == codegen.STOP and he_req.temperature == 0
    assert he_req.prompt.endswith("<|im_start|>assistant\n```python\n" + he.prompt)  # answer starts in the body
    assert "check(" not in he_req.prompt and "candidate" not in he_req.prompt
    m_req = codegen.chat_request(mbpp, temperature=0.8, seed=3)
    assert MBPP[0]["test_list"][0] in m_req.prompt  # MBPP's customary first assert ...
    assert all(t not in m_req.prompt for t in MBPP[0]["test_list"][1:])  # ... and no other
    assert "`max_of_two`" in m_req.prompt and m_req.prompt.endswith("assistant\n```python\n")
    assert (m_req.seed, m_req.temperature, m_req.top_p) == (3, 0.8, 0.95)


def test_extract_code_keeps_the_blocks_with_definitions() -> None:
    text = "Use it like:\n```python\nf(1)\n```\nCode:\n```python\ndef f(x):\n    return x\n```\nDone."
    assert codegen.extract_code(text) == "def f(x):\n    return x"
    two = "```python\nimport os\n```\nand\n```python\ndef g():\n    return os.sep\n```"
    assert codegen.extract_code(two) == "import os\n\ndef g():\n    return os.sep"
    assert codegen.extract_code("```\nprint(1)\n```\n```\nprint(22)\n```") == "print(22)"
    assert codegen.extract_code("```py\ndef g():\n    return 1") == "def g():\n    return 1"  # unclosed (stop)
    assert codegen.extract_code("def h():\n    return 2\n") == "def h():\n    return 2"


def test_sanitize_drops_demo_code_and_keeps_definitions() -> None:
    code = (
        "import math\nfrom typing import List\nR = 3\nCACHE = {}\n\n@staticmethod\ndef f(x):\n    return x * R\n\n"
        "class A:\n    pass\n\nresult = f(2)\nprint(f(2))\nassert f(1) == 99\n"
        "if __name__ == '__main__':\n    f(input())\nfor i in range(3):\n    print(i)\n"
    )
    out = codegen.sanitize(code)
    assert "import math" in out and "R = 3" in out and "CACHE = {}" in out and "@staticmethod\ndef f(x)" in out
    assert "class A" in out
    for dropped in ("result =", "print", "assert", "__main__", "for i"):
        assert dropped not in out
    broken = "def f(:\n  pass"
    assert codegen.sanitize(broken) == broken  # the syntax error is what the tests report


def test_solution_source_humaneval_body_lands_in_the_prompt(tmp_path: Path) -> None:
    task = _he(tmp_path)[1]  # the prompt defines a helper the answer must keep
    src = codegen.solution_source(task, "    return _helper(math.sqrt(x))\n")
    assert "def _helper" in src and "import math" in src and src.count("def double_root") == 1
    ns: dict = {}
    exec(compile(src, "solution", "exec"), ns)  # our own reference code, not model output
    assert ns["double_root"](16) == 8.0


def test_solution_source_humaneval_restated_function_overrides(tmp_path: Path) -> None:
    task = _he(tmp_path)[2]
    answer = '    pass\n```\nBetter:\n```python\ndef shout(s):\n    return s.upper() + "!"\n```'
    ns: dict = {}
    exec(compile(codegen.solution_source(task, answer), "solution", "exec"), ns)
    assert ns["shout"]("a") == "A!"


def test_test_program_puts_setup_solution_then_tests(tmp_path: Path) -> None:
    mbpp = _mbpp(tmp_path)[1]
    program = codegen.test_program(mbpp, codegen.solution_source(mbpp, mbpp.reference))
    assert program.index("FACTOR = 3") < program.index("def scale") < program.index("assert scale")
    exec(compile(program, "program", "exec"), {})  # reference solution and toy asserts
    he = _he(tmp_path)[0]
    assert codegen.test_program(he, "x = 1").rstrip().endswith("check(total)")
