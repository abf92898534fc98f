"""The defog sql-eval dataset format: a questions CSV, one SQLite file and one metadata JSON per database.

    questions.csv            db_name,db_type,query_category,query,question,instructions
    SQLITE_DIR/<db>.sqlite   the database the gold and the generated SQL run on
    METADATA_DIR/<db>.json   {"table_metadata": {table: [{column_name, data_type, column_description}]}}

``query`` may hold several acceptable gold statements separated by ``;``. They are split on the sqlglot
tokenizer's SEMICOLON tokens and sliced out of the original text, so a ``;`` inside a string literal or a
comment never splits a statement and the gold SQL runs exactly as written (no re-generation by sqlglot,
which could change a dialect detail such as ``NULLS FIRST``).
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path

from projects.nl2sql_analytics.generation import split_statements

REQUIRED_COLUMNS = ("db_name", "query_category", "query", "question")


@dataclass(frozen=True)
class ColumnMeta:
    """One column's documented type and description (from the metadata JSON)."""

    name: str
    data_type: str = ""
    description: str = ""


DbMetadata = dict[str, list[ColumnMeta]]  # table name -> its documented columns, in file order


@dataclass(frozen=True)
class EvalItem:
    """One question of the dev set with every acceptable gold statement."""

    id: str
    db_name: str
    category: str
    question: str
    gold: tuple[str, ...]
    instructions: str = ""
    db_type: str = "sqlite"
    extra: dict[str, str] = field(default_factory=dict, compare=False)


def read_questions(path: str | Path) -> list[EvalItem]:
    """Parse the questions CSV; ids are ``<db_name>-<row number>`` (1-based, header excluded), stable across runs."""
    path = Path(path)
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"{path}: missing column(s) {', '.join(missing)}")
        items = []
        for i, row in enumerate(reader, start=1):
            db_type = (row.get("db_type") or "sqlite").strip() or "sqlite"
            gold = tuple(split_statements(row["query"], dialect=_dialect(db_type)))
            if not gold:
                raise ValueError(f"{path}: row {i} has no gold query")
            if not (row["question"] or "").strip():
                raise ValueError(f"{path}: row {i} has no question")
            known = {"db_name", "db_type", "query_category", "query", "question", "instructions"}
            items.append(
                EvalItem(
                    id=f"{row['db_name']}-{i}",
                    db_name=row["db_name"].strip(),
                    category=(row["query_category"] or "").strip() or "uncategorised",
                    question=row["question"].strip(),
                    gold=gold,
                    instructions=(row.get("instructions") or "").strip(),
                    db_type=db_type,
                    extra={k: v for k, v in row.items() if k not in known and k is not None and v},
                )
            )
    return items


def _dialect(db_type: str) -> str:
    return {"postgres": "postgres", "postgresql": "postgres"}.get(db_type.lower(), db_type.lower())


def load_metadata(path: str | Path) -> DbMetadata:
    """Read one database's ``table_metadata``; tables and columns keep the file's order."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    tables = data.get("table_metadata")
    if not isinstance(tables, dict):
        raise ValueError(f"{path}: expected an object with 'table_metadata'")
    return {
        table: [
            ColumnMeta(
                name=str(col["column_name"]),
                data_type=str(col.get("data_type") or ""),
                description=str(col.get("column_description") or ""),
            )
            for col in columns
        ]
        for table, columns in tables.items()
    }


def metadata_for(metadata_dir: str | Path | None, db_name: str) -> DbMetadata | None:
    """The database's metadata when a directory is given and holds ``<db_name>.json``; otherwise None."""
    if metadata_dir is None:
        return None
    path = Path(metadata_dir) / f"{db_name}.json"
    return load_metadata(path) if path.exists() else None


def sqlite_path(db_dir: str | Path, db_name: str) -> Path:
    """``SQLITE_DIR/<db_name>.sqlite``; a missing file is an error at load time, not a wrong answer per item."""
    path = Path(db_dir) / f"{db_name}.sqlite"
    if not path.is_file():
        raise FileNotFoundError(f"database file not found: {path}")
    return path
