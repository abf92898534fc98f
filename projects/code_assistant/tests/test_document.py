"""Docstring generation: placement, cleaning and refusal with a scripted model; one real-model run at the end."""

from __future__ import annotations

import ast
import re

import pytest

from projects.code_assistant.document import Documenter, DocumentError, clean_docstring, detect_style
from projects.code_assistant.parsing import parse_source
from projects.code_assistant.settings import CodeSettings
from shared.testing.doubles import RecordingChat

PY = '''"""Inventory helpers."""

import math


def total(items):
    return sum(i.price for i in items)


class Cart:
    # a shopping cart
    def __init__(self):
        self.items = []

    @staticmethod
    def tax(amount, rate=0.2):
        """Old docstring."""
        return math.ceil(amount * rate)
'''


def _doc(reply: str, settings: CodeSettings | None = None) -> tuple[Documenter, RecordingChat]:
    chat = RecordingChat(reply)
    return Documenter(chat, settings or CodeSettings()), chat


def _def(source: str, name: str) -> ast.AST:
    return next(n for n in ast.walk(ast.parse(source)) if getattr(n, "name", None) == name)


def _changed_lines(old: str, new: str, start: int, end: int, replaced: int = 0) -> None:
    """Every line outside the inserted block is byte-identical to the original."""
    old_lines, new_lines = old.split("\n"), new.split("\n")
    assert new_lines[: start - 1] == old_lines[: start - 1]
    assert new_lines[end:] == old_lines[start - 1 + replaced :]


def test_function_docstring_inserted_with_body_indentation() -> None:
    documenter, chat = _doc("Sum the prices of all items.")
    result = documenter.docstring("shop/cart.py", PY, "total")
    lines = result.new_source.split("\n")
    assert lines[5] == "def total(items):"
    assert lines[6] == '    """Sum the prices of all items."""'
    assert (result.start_line, result.end_line, result.replaced) == (7, 7, False)
    _changed_lines(PY, result.new_source, 7, 7)
    assert ast.get_docstring(_def(result.new_source, "total")) == "Sum the prices of all items."
    assert result.diff.startswith("--- a/shop/cart.py\n+++ b/shop/cart.py\n")
    assert '+    """Sum the prices of all items."""' in result.diff
    assert sum(1 for line in result.diff.splitlines() if line.startswith(("+", "-"))) == 3  # headers + one line
    prompt = chat.calls[0].messages[-1].content
    assert "def total(items):" in prompt and "Google style" in prompt


def test_method_docstring_replaces_existing_and_keeps_decorator() -> None:
    documenter, _ = _doc("Tax owed on an amount.\n\nArgs:\n    amount: the net amount.\n    rate: the tax rate.")
    result = documenter.docstring("shop/cart.py", PY, "Cart.tax")
    lines = result.new_source.split("\n")
    start = lines.index("    @staticmethod")
    assert lines[start + 1] == "    def tax(amount, rate=0.2):"
    assert lines[start + 2 : start + 9] == [
        '        """Tax owed on an amount.',
        "",
        "        Args:",
        "            amount: the net amount.",
        "            rate: the tax rate.",
        '        """',
        "        return math.ceil(amount * rate)",
    ]
    assert result.replaced and "Old docstring" not in result.new_source
    _changed_lines(PY, result.new_source, result.start_line, result.end_line, replaced=1)
    assert ast.get_docstring(_def(result.new_source, "tax")).startswith("Tax owed on an amount.")


def test_class_docstring_goes_before_a_leading_comment() -> None:
    documenter, _ = _doc("A cart of items.")
    result = documenter.docstring("shop/cart.py", PY, "Cart")
    lines = result.new_source.split("\n")
    i = lines.index("class Cart:")
    assert lines[i + 1 : i + 3] == ['    """A cart of items."""', "    # a shopping cart"]
    _changed_lines(PY, result.new_source, result.start_line, result.end_line)


def test_module_docstring_replaced_and_inserted() -> None:
    documenter, _ = _doc("Helpers for pricing a cart.")
    result = documenter.docstring("shop/cart.py", PY, None)
    assert result.new_source.split("\n")[0] == '"""Helpers for pricing a cart."""'
    assert result.replaced
    _changed_lines(PY, result.new_source, 1, 1, replaced=1)

    bare = "#!/usr/bin/env python\nimport os\n\nprint(os.name)\n"
    result = _doc("Print the OS name.")[0].docstring("bin/tool.py", bare, None)
    assert result.new_source == '#!/usr/bin/env python\n"""Print the OS name."""\n\nimport os\n\nprint(os.name)\n'
    assert ast.get_docstring(ast.parse(result.new_source)) == "Print the OS name."


def test_crlf_file_stays_crlf_and_other_bytes_identical() -> None:
    source = PY.replace("\n", "\r\n")
    result = _doc("Sum the prices.")[0].docstring("shop/cart.py", source, "total")
    assert '    """Sum the prices."""\r\n' in result.new_source
    assert result.new_source.replace('    """Sum the prices."""\r\n', "", 1) == source


def test_model_answer_with_fence_signature_and_trailing_code_is_cleaned() -> None:
    reply = (
        "Here is the docstring:\n```python\ndef total(items):\n"
        '    """Sum the prices of all items.\n\n    Returns:\n        The total price.\n    """\n'
        "    return sum(i.price for i in items)\n```\nThis docstring explains the function."
    )
    result = _doc(reply)[0].docstring("shop/cart.py", PY, "total")
    assert result.docstring == "Sum the prices of all items.\n\nReturns:\n    The total price."
    assert "return sum(i.price for i in items)\n" in result.new_source
    assert result.new_source.count("return sum(i.price for i in items)") == 1


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ('"Add two numbers."', "Add two numbers."),
        ("'''Add two numbers.'''", "Add two numbers."),
        ("def add(a, b):\nAdd two numbers.", "Add two numbers."),
        ("/**\n * Add two numbers.\n * @param a first\n */", "Add two numbers.\n@param a first"),
        ("// Add adds two numbers.\n// It never fails.", "Add adds two numbers.\nIt never fails."),
        ("Docstring:\nAdd two numbers.\n\n\n\nMore.", "Add two numbers.\n\nMore."),
        (
            "A one-line summary: adds two numbers.\n\nArgs:\n- `a` (int): first.\nb: second.\n\nReturns:\n- The sum.",
            "Adds two numbers.\n\nArgs:\n    a (int): first.\n    b: second.\n\nReturns:\n    The sum.",
        ),
    ],
)
def test_clean_docstring_variants(reply: str, expected: str) -> None:
    symbol = parse_source("m.py", "def add(a, b):\n    return a + b\n", "python").symbols[0]
    assert clean_docstring(reply, symbol, CodeSettings()) == expected


def test_triple_quotes_and_backslashes_are_escaped_and_length_capped() -> None:
    reply = 'Split on """ or on a backslash \\ and end with a quote "\n' + "\n".join(f"line {i}" for i in range(100))
    result = _doc(reply, CodeSettings(doc_max_lines=5))[0].docstring("shop/cart.py", PY, "total")
    text = ast.get_docstring(_def(result.new_source, "total"))
    assert text.startswith('Split on """ or on a backslash \\ and end with a quote "')
    assert text.split("\n")[-1] == "line 3"


def test_unusable_answer_and_unknown_target_are_refused() -> None:
    with pytest.raises(DocumentError, match="no usable"):
        _doc("```python\n```\n")[0].docstring("shop/cart.py", PY, "total")
    with pytest.raises(DocumentError, match="no function, class or method 'missing'"):
        _doc("x")[0].docstring("shop/cart.py", PY, "missing")
    with pytest.raises(DocumentError, match="same line"):
        _doc("Doc.")[0].docstring("m.py", "def f(): return 1\n", "f")
    with pytest.raises(DocumentError, match="no grammar"):
        _doc("Doc.")[0].docstring("notes.txt", "hello\n", None)


def test_answer_that_would_break_the_file_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cleaning escapes what it knows; if formatting still produced broken code, verification refuses it."""
    import projects.code_assistant.document as document

    def broken(text: str, language: str, indent: str, symbol: object, package: str = "") -> list[str]:
        return [indent + '"""']

    monkeypatch.setattr(document, "format_docstring", broken)
    with pytest.raises(DocumentError, match="would break"):
        _doc("Fine text.")[0].docstring("shop/cart.py", PY, "total")


def test_style_detected_from_other_docstrings() -> None:
    numpy = 'def a(x):\n    """A.\n\n    Parameters\n    ----------\n    x : int\n    """\n\n\ndef b(y):\n    pass\n'
    rest = 'def a(x):\n    """A.\n\n    :param x: a value\n    """\n'
    plain = 'def a():\n    """Do a."""\n\n\ndef b():\n    """Do b."""\n'
    assert detect_style(parse_source("m.py", numpy, "python")) == "numpy"
    assert detect_style(parse_source("m.py", rest, "python")) == "rest"
    assert detect_style(parse_source("m.py", plain, "python")) == "plain"
    assert detect_style(parse_source("m.py", "def a():\n    pass\n", "python")) == "google"
    documenter, chat = _doc("Do b.")
    documenter.docstring("m.py", numpy, "b")
    assert "NumPy style" in chat.calls[0].messages[-1].content


JS = """import { fmt } from './fmt';

export class Invoice {
  /** Old. */
  total(lines) {
    return lines.reduce((a, l) => a + l.amount, 0);
  }
}

export function render(inv) {
  return fmt(inv.total([]));
}
"""


def test_javascript_jsdoc_above_function_and_replacing_method_doc() -> None:
    result = _doc("Render an invoice.\n@param {Invoice} inv the invoice")[0].docstring("web/inv.js", JS, "render")
    lines = result.new_source.split("\n")
    i = lines.index("export function render(inv) {")
    assert lines[i - 4 : i] == ["/**", " * Render an invoice.", " * @param {Invoice} inv the invoice", " */"]
    _changed_lines(JS, result.new_source, result.start_line, result.end_line)

    result = _doc("/** Sum of the line amounts. */")[0].docstring("web/inv.js", JS, "Invoice.total")
    lines = result.new_source.split("\n")
    assert lines[3:5] == ["  /** Sum of the line amounts. */", "  total(lines) {"]
    assert result.replaced and "Old." not in result.new_source
    symbols = {s.qualname: s for s in parse_source("web/inv.js", result.new_source, "javascript").symbols}
    assert symbols["Invoice.total"].docstring == "Sum of the line amounts."


GO = """package shop

// helper comment far away

func Add(a, b int) int {
\treturn a + b
}

type Cart struct{}

// old doc
func (c *Cart) Size() int {
\treturn 0
}
"""


def test_go_doc_comments_start_with_the_name() -> None:
    result = _doc("Returns the sum of a and b.")[0].docstring("shop/add.go", GO, "Add")
    lines = result.new_source.split("\n")
    i = lines.index("func Add(a, b int) int {")
    assert lines[i - 1] == "// Add returns the sum of a and b."
    assert lines[i - 2] == ""  # the unrelated comment above the blank line is untouched
    _changed_lines(GO, result.new_source, result.start_line, result.end_line)

    result = _doc("Size reports how many items the cart holds.")[0].docstring("shop/add.go", GO, "Cart.Size")
    assert "// old doc" not in result.new_source
    assert "// Size reports how many items the cart holds.\nfunc (c *Cart) Size() int {" in result.new_source

    result = _doc("Shop prices carts.")[0].docstring("shop/add.go", GO, None)
    assert result.new_source.startswith("// Package shop prices carts.\npackage shop\n")


JAVA = """package com.shop;

public class Cart {
    @Override
    public String toString() {
        return "cart";
    }
}
"""


def test_java_javadoc_goes_above_annotations() -> None:
    result = _doc("Describe the cart.\n@return a label")[0].docstring("src/Cart.java", JAVA, "Cart.toString")
    lines = result.new_source.split("\n")
    i = lines.index("    @Override")
    assert lines[i - 4 : i] == ["    /**", "     * Describe the cart.", "     * @return a label", "     */"]
    _changed_lines(JAVA, result.new_source, result.start_line, result.end_line)


def test_readme_section_lists_parsed_api_and_keeps_only_a_grounded_example() -> None:
    files = {
        "shop/__init__.py": '"""A tiny shop."""\n__all__ = ["Cart", "total"]\nfrom shop.cart import Cart, total\n',
        "shop/cart.py": PY,
        "shop/_private.py": "def hidden():\n    pass\n",
    }
    reply = "Shop prices carts of items.\n\n```python\nfrom shop.cart import total\nprint(total([]))\n```\n"
    chat = RecordingChat(reply)
    section = Documenter(chat, CodeSettings()).readme_section("shop", files)
    assert section.startswith("## `shop`\n\nShop prices carts of items.\n\n### Public API\n")
    assert "- `def total(items):` (shop/cart.py:6)" in section
    assert "- `class Cart:` (shop/cart.py:10)" in section
    assert "hidden" not in section and "tax" not in section.split("### Public API")[1].split("### Usage")[0]
    assert "### Usage\n\n```python\nfrom shop.cart import total\nprint(total([]))\n```" in section
    assert "shop/cart.py" in chat.calls[0].messages[-1].content  # the repo map went to the model

    invented = "It does things.\n```python\nimport shop\nshop.launch_rockets()\n```"
    section = Documenter(RecordingChat(invented), CodeSettings()).readme_section("shop", files)
    assert "### Usage" not in section and "launch_rockets" not in section


# -- the real local model -------------------------------------------------------------------------------------

SMALL = """import re


def slugify(title, max_length=40):
    words = re.findall(r"[a-z0-9]+", title.lower())
    slug = "-".join(words)
    return slug[:max_length].rstrip("-")
"""


def test_real_model_docstring_for_a_small_function() -> None:
    from shared.serving import get_chat_model

    settings = CodeSettings(doc_max_tokens=80)
    result = Documenter(get_chat_model(), settings).docstring("text/slug.py", SMALL, "slugify")
    doc = ast.get_docstring(_def(result.new_source, "slugify"))
    assert doc == result.docstring and doc
    assert re.search(r"slug|title|hyphen|dash|url|lower|max_length|length", doc, re.IGNORECASE), doc
    _changed_lines(SMALL, result.new_source, result.start_line, result.end_line)
