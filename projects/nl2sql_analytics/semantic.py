"""The semantic layer: what a database's tables, columns and business terms mean, one YAML file per connection.

Why: a schema says ``order_items.unit_price``; users say "turnover". The layer holds descriptions, synonyms,
business metrics as SQL expressions and the join paths between tables, so schema linking can match the
user's words and the generator can reuse a vetted definition instead of inventing one. It is plain YAML so
an analyst can edit it by hand (or in the UI), and :func:`validate_against` catches a layer that drifted
from the database (a renamed column, a metric over a dropped table) before it misleads the model.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Literal

import sqlglot
import yaml
from pydantic import BaseModel, ConfigDict, Field
from sqlglot import exp

# {table: {column: type}} — the shape every introspection can produce
SchemaTables = Mapping[str, Mapping[str, str]]


class ForeignKey(BaseModel):
    from_table: str
    from_column: str
    to_table: str
    to_column: str

    @classmethod
    def coerce(cls, fk: ForeignKey | Sequence[str] | Mapping[str, str]) -> ForeignKey:
        """Accept a ForeignKey, a ``(from_table, from_column, to_table, to_column)`` tuple or a dict."""
        if isinstance(fk, ForeignKey):
            return fk
        if isinstance(fk, Mapping):
            return cls.model_validate(fk)
        return cls(from_table=fk[0], from_column=fk[1], to_table=fk[2], to_column=fk[3])


class ColumnInfo(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: str = ""
    synonyms: list[str] = Field(default_factory=list)
    values: list[str] = Field(default_factory=list, description="the allowed/typical values of a categorical column")


class TableInfo(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: str = ""
    synonyms: list[str] = Field(default_factory=list)
    columns: dict[str, ColumnInfo] = Field(default_factory=dict)


class Metric(BaseModel):
    """A business measure: an aggregate SQL expression over qualified columns (``table.column``)."""

    model_config = ConfigDict(extra="forbid")

    description: str = ""
    sql: str = Field(description="aggregate expression, e.g. SUM(order_items.unit_price * order_items.quantity)")
    tables: list[str] = Field(description="tables the expression (and filter) need; joined by the join paths")
    filter: str | None = Field(default=None, description="boolean SQL condition always applied with the metric")
    time_column: str | None = Field(default=None, description="table.column to bucket the metric by over time")
    synonyms: list[str] = Field(default_factory=list)


class JoinPath(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: str = Field(alias="from", description="table.column holding the reference")
    to: str = Field(description="table.column referenced (usually a primary key)")
    relationship: Literal["many_to_one", "one_to_one", "one_to_many", "many_to_many"] = "many_to_one"

    @property
    def from_table(self) -> str:
        return self.from_.split(".", 1)[0]

    @property
    def to_table(self) -> str:
        return self.to.split(".", 1)[0]


class SemanticLayer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    connection: str
    dialect: str = Field(default="sqlite", description="sqlglot dialect the metric expressions are written in")
    description: str = ""
    tables: dict[str, TableInfo] = Field(default_factory=dict)
    metrics: dict[str, Metric] = Field(default_factory=dict)
    joins: list[JoinPath] = Field(default_factory=list)

    def synonym_index(self) -> dict[str, str]:
        """Lower-cased term → what it names: ``customers``, ``customers.segment`` or ``metric:revenue``.

        Names themselves are included, so a linker can look any user word up in one dict.
        """
        index: dict[str, str] = {}
        for table, info in self.tables.items():
            for term in [table, *info.synonyms]:
                index.setdefault(term.lower(), table)
            for column, col in info.columns.items():
                for term in col.synonyms:
                    index.setdefault(term.lower(), f"{table}.{column}")
        for name, metric in self.metrics.items():
            for term in [name, name.replace("_", " "), *metric.synonyms]:
                index.setdefault(term.lower(), f"metric:{name}")
        return index

    def join_path(self, tables: Iterable[str]) -> list[JoinPath]:
        """Joins connecting ``tables`` (shortest paths from the first over the undirected join graph).

        Raises ValueError when some table cannot be reached.
        """
        wanted = list(dict.fromkeys(tables))
        if len(wanted) <= 1:
            return []
        connected = {wanted[0]}
        used: list[JoinPath] = []
        for target in wanted[1:]:
            if target in connected:
                continue
            path = self._bfs(connected, target)
            if path is None:
                raise ValueError(f"no join path from {sorted(connected)} to {target!r}")
            for j in path:
                if j not in used:
                    used.append(j)
                connected |= {j.from_table, j.to_table}
        return used

    def _bfs(self, sources: set[str], target: str) -> list[JoinPath] | None:
        frontier = list(sources)
        prev: dict[str, tuple[str, JoinPath] | None] = dict.fromkeys(sources)
        while frontier:
            nxt = []
            for t in frontier:
                for j in self.joins:
                    for a, b in ((j.from_table, j.to_table), (j.to_table, j.from_table)):
                        if a == t and b not in prev:
                            prev[b] = (t, j)
                            nxt.append(b)
            frontier = nxt
            if target in prev:
                path: list[JoinPath] = []
                node = target
                while prev[node] is not None:
                    parent, j = prev[node]  # type: ignore[misc]
                    path.append(j)
                    node = parent
                return list(reversed(path))
        return None

    def metric_query(self, name: str) -> str:
        """A standalone ``SELECT <metric> FROM ... JOIN ... [WHERE filter]`` (few-shot examples, tests, KPIs)."""
        metric = self.metrics[name]
        base = metric.tables[0]
        sql = f"SELECT {metric.sql} AS {name} FROM {base}"
        joined = {base}
        for j in self.join_path(metric.tables):
            new = j.to_table if j.from_table in joined else j.from_table
            sql += f" JOIN {new} ON {j.from_} = {j.to}"
            joined.add(new)
        if metric.filter:
            sql += f" WHERE {metric.filter}"
        return sql


class Problem(BaseModel):
    """One way the layer disagrees with the database; ``where`` locates it in the YAML."""

    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


# -- files ------------------------------------------------------------------------------------------------
class _Dumper(yaml.SafeDumper):
    """Block style for multi-line strings, so long descriptions stay readable and diffable."""


def _str_presenter(dumper: yaml.SafeDumper, data: str) -> yaml.Node:
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


def _list_presenter(dumper: yaml.SafeDumper, data: list) -> yaml.Node:
    """Short lists of words (synonyms, values) on one line: ``[client, buyer]``."""
    flow = bool(data) and all(isinstance(x, str) and "\n" not in x for x in data) and sum(map(len, data)) < 90
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)


_Dumper.add_representer(str, _str_presenter)
_Dumper.add_representer(list, _list_presenter)


def load(path: str | Path) -> SemanticLayer:
    """Read and validate a layer (pydantic errors name the offending key)."""
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    return SemanticLayer.model_validate(data)


def dumps(layer: SemanticLayer) -> str:
    """YAML text in the file's natural order (connection, tables, metrics, joins), defaults left out."""
    data = layer.model_dump(mode="json", by_alias=True, exclude_defaults=True)
    data.setdefault("connection", layer.connection)
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=110, default_flow_style=False)


def save(layer: SemanticLayer, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dumps(layer), encoding="utf-8")
    return path


# -- validation -------------------------------------------------------------------------------------------
def _closest(name: str, options: Iterable[str]) -> str:
    match = difflib.get_close_matches(name, list(options), n=1, cutoff=0.6)
    return f" (did you mean {match[0]!r}?)" if match else ""


def _lower(tables: SchemaTables) -> dict[str, set[str]]:
    return {t.lower(): {c.lower() for c in cols} for t, cols in tables.items()}


def _check_ref(ref: str | None, schema: dict[str, set[str]], where: str, problems: list[Problem]) -> None:
    """``table.column`` must exist."""
    if ref is None:
        return
    if "." not in ref:
        problems.append(Problem(where=where, message=f"{ref!r} is not of the form table.column"))
        return
    table, column = ref.lower().split(".", 1)
    if table not in schema:
        problems.append(Problem(where=where, message=f"unknown table {table!r}{_closest(table, schema)}"))
    elif column not in schema[table]:
        problems.append(
            Problem(where=where, message=f"unknown column {table}.{column}{_closest(column, schema[table])}")
        )


def _check_expression(
    sql: str, metric_tables: list[str], schema: dict[str, set[str]], dialect: str, where: str
) -> list[Problem]:
    """Parse a metric expression/filter with sqlglot and check every column it mentions."""
    try:
        tree = sqlglot.parse_one(sql, read=dialect)
    except sqlglot.errors.ParseError as e:
        return [Problem(where=where, message=f"does not parse: {str(e).splitlines()[0]}")]
    if tree is None or isinstance(tree, exp.Query | exp.DDL | exp.DML | exp.Command) or tree.find(exp.Query):
        return [Problem(where=where, message="must be a single SQL expression, not a statement or subquery")]
    problems: list[Problem] = []
    tables = [t.lower() for t in metric_tables]
    for col in tree.find_all(exp.Column):
        name, table = col.name.lower(), col.table.lower()
        if table:
            if table not in tables:
                problems.append(Problem(where=where, message=f"{col.sql()} uses table {table!r} not listed in tables"))
            elif table in schema and name not in schema[table]:
                problems.append(
                    Problem(where=where, message=f"unknown column {table}.{name}{_closest(name, schema[table])}")
                )
        else:
            owners = [t for t in tables if name in schema.get(t, set())]
            if not owners:
                problems.append(Problem(where=where, message=f"unknown column {name!r} in tables {tables}"))
            elif len(owners) > 1:
                problems.append(Problem(where=where, message=f"ambiguous column {name!r}: qualify it ({owners})"))
    return problems


def validate_against(
    layer: SemanticLayer,
    tables: SchemaTables,
    foreign_keys: Iterable[ForeignKey | Sequence[str] | Mapping[str, str]] = (),
) -> list[Problem]:
    """Everything in ``layer`` that the database ``{table: {column: type}}`` does not have (empty = consistent).

    Checks described tables and columns, metric tables, expressions and filters (parsed with sqlglot),
    time columns, join endpoints and that each metric's tables are connected by join paths. Names compare
    case-insensitively, like SQL identifiers. ``foreign_keys`` is accepted for symmetry with :func:`bootstrap`;
    joins need not be declared foreign keys (many warehouses have none).
    """
    del foreign_keys
    schema = _lower(tables)
    problems: list[Problem] = []
    for table, info in layer.tables.items():
        t = table.lower()
        if t not in schema:
            problems.append(Problem(where=f"tables.{table}", message=f"unknown table {table!r}{_closest(t, schema)}"))
            continue
        for column in info.columns:
            if column.lower() not in schema[t]:
                problems.append(
                    Problem(
                        where=f"tables.{table}.columns.{column}",
                        message=f"unknown column {table}.{column}{_closest(column.lower(), schema[t])}",
                    )
                )
    for name, metric in layer.metrics.items():
        where = f"metrics.{name}"
        known = True
        for t in metric.tables:
            if t.lower() not in schema:
                problems.append(Problem(where=f"{where}.tables", message=f"unknown table {t!r}{_closest(t, schema)}"))
                known = False
        problems += _check_expression(metric.sql, metric.tables, schema, layer.dialect, f"{where}.sql")
        if metric.filter:
            problems += _check_expression(metric.filter, metric.tables, schema, layer.dialect, f"{where}.filter")
        _check_ref(metric.time_column, schema, f"{where}.time_column", problems)
        if known:
            try:
                layer.join_path(metric.tables)
            except ValueError as e:
                problems.append(Problem(where=f"{where}.tables", message=str(e)))
    for i, join in enumerate(layer.joins):
        _check_ref(join.from_, schema, f"joins[{i}].from", problems)
        _check_ref(join.to, schema, f"joins[{i}].to", problems)
    return problems


# -- drafting ---------------------------------------------------------------------------------------------
def _singular(word: str) -> str:
    if word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith(("ses", "xes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def _humanize(name: str) -> str:
    return re.sub(r"[_\s]+", " ", name).strip()


def bootstrap(
    tables: SchemaTables,
    foreign_keys: Iterable[ForeignKey | Sequence[str] | Mapping[str, str]] = (),
    *,
    connection: str = "default",
    dialect: str = "sqlite",
) -> SemanticLayer:
    """A first draft from an introspected schema: every table and column, joins from foreign keys.

    Descriptions are left empty for a human (or the UI) to fill; table synonyms get the singular form
    ("customer" for ``customers``) because users rarely say the plural table name. No metrics are invented:
    a wrong metric definition is worse than none.
    """
    layer = SemanticLayer(connection=connection, dialect=dialect)
    for table, cols in tables.items():
        human = _humanize(table)
        singular = " ".join([*human.split()[:-1], _singular(human.split()[-1])]) if human else human
        synonyms = sorted({s for s in (singular, human) if s and s != table})
        layer.tables[table] = TableInfo(synonyms=synonyms, columns={c: ColumnInfo() for c in cols})
    for fk in foreign_keys:
        fk = ForeignKey.coerce(fk)
        layer.joins.append(
            JoinPath(**{"from": f"{fk.from_table}.{fk.from_column}", "to": f"{fk.to_table}.{fk.to_column}"})
        )
    return layer
