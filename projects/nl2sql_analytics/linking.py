"""Schema linking: the few tables and columns a question needs, rendered as compact DDL for a small model.

A 100-table schema dumped into a 4k-token context is the first reason local models fail at NL-to-SQL, so the
generator never sees the whole schema. Four signals pick the tables:

1. hybrid search (embeddings + full text, the shared :class:`~shared.retrieval.Searcher`) over one document per
   table, column and metric (names, descriptions, synonyms, sample values);
2. exact synonym hits from the semantic layer ("turnover" → metric revenue, "clients" → customers);
3. value matching: a question phrase equal to a stored column value ("credit card" → payments.method =
   'credit_card'), with pg_trgm ``strict_word_similarity`` for phrases and exact word overlap for single words;
4. join completion: the tables needed to JOIN the picked ones (a Steiner-tree heuristic: shortest paths over the
   semantic layer's join paths plus the foreign keys), so "revenue by region" brings in ``customers``.

The prompt keeps keys, matched columns and metric columns first, and is shrunk step by step until it fits the
character budget (``Nl2SqlSettings.link_max_chars``).
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections import defaultdict, deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

import sqlglot
from pydantic import BaseModel
from sqlglot.errors import SqlglotError

from projects.nl2sql_analytics.connections import Connection, SchemaInfo, TableInfo, _is_text, _samples, open_readonly
from projects.nl2sql_analytics.models import LinkedSchema
from projects.nl2sql_analytics.semantic import SemanticLayer
from projects.nl2sql_analytics.settings import Nl2SqlSettings, get_nl2sql_settings
from shared.db import apply_statements
from shared.observability.tracing import span
from shared.retrieval import (
    CollectionNotFoundError,
    Document,
    Indexer,
    PgVectorStore,
    Principal,
    Searcher,
    SearchRequest,
    upgrade,
)
from shared.serving.base import Embedder

TENANT = "nl2sql"
PRINCIPAL = Principal(user_id="nl2sql-linker", tenant_id=TENANT)
_LOCK_KEY = 0x4E4C3253514C4C4B  # "NL2SQLLK"

STATEMENTS = (
    """CREATE TABLE IF NOT EXISTS nl2sql_link_index (
        collection text PRIMARY KEY,
        content_hash text NOT NULL,
        documents int NOT NULL,
        n_values int NOT NULL,
        indexed_at timestamptz NOT NULL DEFAULT now()
    )""",
    """CREATE TABLE IF NOT EXISTS nl2sql_values (
        collection text NOT NULL,
        table_name text NOT NULL,
        column_name text NOT NULL,
        value text NOT NULL,
        norm text NOT NULL,
        PRIMARY KEY (collection, table_name, column_name, value)
    )""",
    "CREATE INDEX IF NOT EXISTS nl2sql_values_norm_trgm ON nl2sql_values USING gin (norm gin_trgm_ops)",
)

# Words that carry no schema meaning; value matching on them would only add noise.
_STOP_WORDS = """
a an the of in on at by for per to from with and or not no is are was were be been what which who whom whose
how many much show list give me my our their all each every total top than then over under between during
last this that these those year years month months week weeks day days quarter quarters did do does have has
had get find count number average sum most least more less vs versus
"""
_STOP = frozenset(_STOP_WORDS.split())
_MIN_HIT = 0.45  # search hits scoring below this fraction of the best one are noise, not evidence
_NUMERIC = re.compile(r"^[\d\s\-:./+,%]+$")


def collection_name(connection: str) -> str:
    """The shared-retrieval collection holding one connection's schema documents."""
    return f"nl2sql:{connection}"


def ensure_schema(url: str) -> None:
    """Create the linker's tables (value index, index fingerprints) if missing; advisory-locked, idempotent."""
    apply_statements(url, STATEMENTS, _LOCK_KEY)


# -- text helpers ----------------------------------------------------------------------------------------------
def normalise(text: str) -> str:
    """Lower-case words and digits only: 'Credit_Card!' → 'credit card' (values and questions compare this way)."""
    text = unicodedata.normalize("NFKC", text).lower()
    return " ".join(re.findall(r"\w+", text.replace("_", " ")))


def _humanise(name: str) -> str:
    return name.replace("_", " ").strip()


def _singular(word: str) -> str:
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def _content_tokens(question: str) -> list[str]:
    """Question words worth matching against values, with singular forms ('cards' → 'card')."""
    words = [w for w in normalise(question).split() if len(w) >= 3 and w not in _STOP]
    return sorted({*words, *(_singular(w) for w in words)})


def _cut(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: max(limit - 1, 0)].rstrip() + "…"


# -- documents ---------------------------------------------------------------------------------------------
def schema_documents(connection: str, schema: SchemaInfo, layer: SemanticLayer | None) -> list[Document]:
    """One retrieval document per table, column and metric; metadata says what each one points at."""
    coll = collection_name(connection)
    docs: list[Document] = []
    for table in schema.tables:
        tinfo = layer.tables.get(table.name) if layer else None
        t_syn = ", ".join(tinfo.synonyms) if tinfo and tinfo.synonyms else ""
        columns = ", ".join(c.name for c in table.columns)
        text = f"table {table.name} ({_humanise(table.name)})"
        text += f": {tinfo.description}" if tinfo and tinfo.description else ""
        text += f". Also called: {t_syn}" if t_syn else ""
        text += f". Columns: {columns}"
        docs.append(_doc(coll, f"table:{table.name}", text, kind="table", table=table.name))
        for col in table.columns:
            cinfo = tinfo.columns.get(col.name) if tinfo else None
            ctext = f"column {table.name}.{col.name} ({_humanise(col.name)} of {_humanise(table.name)}) {col.type}"
            ctext += f": {cinfo.description}" if cinfo and cinfo.description else ""
            ctext += f". Also called: {', '.join(cinfo.synonyms)}" if cinfo and cinfo.synonyms else ""
            values = (cinfo.values if cinfo and cinfo.values else []) or col.samples
            ctext += f". Values: {', '.join(values[:8])}" if values else ""
            docs.append(
                _doc(coll, f"column:{table.name}.{col.name}", ctext, kind="column", table=table.name, column=col.name)
            )
    if layer:
        known = {t.lower() for t in schema.table_names()}
        for name, metric in layer.metrics.items():
            if not all(t.lower() in known for t in metric.tables):
                continue
            text = f"metric {name} ({_humanise(name)})"
            text += f": {metric.description}" if metric.description else ""
            text += f". Also called: {', '.join(metric.synonyms)}" if metric.synonyms else ""
            text += f". Formula: {metric.sql} over {', '.join(metric.tables)}"
            docs.append(_doc(coll, f"metric:{name}", text, kind="metric", metric=name, tables=list(metric.tables)))
    return docs


def _doc(collection: str, uri: str, text: str, **metadata: object) -> Document:
    return Document(collection=collection, source_uri=uri, text=text, metadata=metadata, tenant_id=TENANT)


def collect_values(
    schema: SchemaInfo,
    layer: SemanticLayer | None,
    settings: Nl2SqlSettings,
    source: Connection | None = None,
) -> list[tuple[str, str, str]]:
    """``(table, column, value)`` of low-cardinality text columns, bounded in scan and count.

    Sources: the semantic layer's declared ``values``; distinct values read from ``source`` (at most
    ``link_value_scan_rows`` rows per column, and only columns with at most ``link_value_max_distinct`` distinct
    values — names, emails and dates are left out); without ``source``, introspected samples of columns whose sample
    list was not full (so it is probably the whole set).
    """
    out: dict[tuple[str, str, str], None] = {}

    def add(table: str, column: str, values: Iterable[str]) -> None:
        for v in values:
            v = str(v).strip()
            if v and len(v) <= settings.sample_value_max_chars and not _NUMERIC.match(v) and normalise(v):
                out.setdefault((table, column, v), None)

    if layer:
        for tname, tinfo in layer.tables.items():
            table = schema.table(tname)
            for cname, cinfo in tinfo.columns.items():
                if table and table.column(cname) and cinfo.values:
                    add(table.name, table.column(cname).name, cinfo.values)  # type: ignore[union-attr]
    text_columns = [(t, c) for t in schema.tables for c in t.columns if _is_text(c.type) and not c.primary_key]
    if source is not None:
        probe = settings.model_copy(
            update={
                "sample_values": settings.link_value_max_distinct + 1,
                "sample_scan_rows": settings.link_value_scan_rows,
            }
        )
        with open_readonly(source, statement_timeout_ms=settings.statement_timeout_ms) as conn:
            for table, col in text_columns:
                try:
                    values = _samples(conn, source, table.name, col.name, probe)
                except Exception:  # a view that fails, a permission error: skip the column, never the index
                    if source.dialect == "postgres":
                        conn.rollback()
                    continue
                if len(values) <= settings.link_value_max_distinct:
                    add(table.name, col.name, values)
            if source.dialect == "postgres":
                conn.rollback()
    else:
        for table, col in text_columns:
            if col.samples and len(col.samples) < settings.sample_values:
                add(table.name, col.name, col.samples)
    return list(out)[: settings.link_max_values]


# -- results -----------------------------------------------------------------------------------------------
class IndexReport(BaseModel):
    collection: str
    status: Literal["unchanged", "indexed"]
    documents: int
    changed: int = 0
    deleted: int = 0
    values: int = 0


@dataclass
class _Signals:
    """Per-table evidence gathered from the question; ``explicit`` tables were named (synonym or value)."""

    score: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    explicit: set[str] = field(default_factory=set)
    columns: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    metrics: dict[str, float] = field(default_factory=dict)
    values: list[tuple[str, str, str]] = field(default_factory=list)


class SchemaLinker:
    """Indexes schemas into the shared retrieval store and links questions to the relevant slice of them."""

    def __init__(
        self, url: str, embedder: Embedder, settings: Nl2SqlSettings | None = None, *, migrate: bool = True
    ) -> None:
        if migrate:
            upgrade(url)
            ensure_schema(url)
        self.url = url
        self.embedder = embedder
        self.settings = settings or get_nl2sql_settings()
        self.store = PgVectorStore(url)
        self.indexer = Indexer(self.store, embedder)
        self.searcher = Searcher(self.store, embedder)

    # -- indexing ------------------------------------------------------------------------------------------
    def index(
        self,
        connection_name: str,
        schema: SchemaInfo,
        layer: SemanticLayer | None = None,
        *,
        source: Connection | None = None,
    ) -> IndexReport:
        """Store the schema's documents and values; a no-op when nothing changed since the last call.

        Documents are content-hashed one by one (a changed description re-embeds only that document), tables or
        columns that disappeared are deleted, and the value index is replaced in one transaction. ``source`` lets
        the linker read distinct values from the database itself (see :func:`collect_values`).
        """
        coll = collection_name(connection_name)
        with span("nl2sql.link.index", collection=coll):
            docs = schema_documents(connection_name, schema, layer)
            values = collect_values(schema, layer, self.settings, source)
            fingerprint = hashlib.sha256(
                json.dumps([self.embedder.model, [(d.source_uri, d.text) for d in docs], values]).encode()
            ).hexdigest()
            with self.store.connect() as conn:
                row = conn.execute(
                    "SELECT content_hash FROM nl2sql_link_index WHERE collection = %s", (coll,)
                ).fetchone()
            if row and row[0] == fingerprint:
                return IndexReport(collection=coll, status="unchanged", documents=len(docs), values=len(values))
            self.store.create_collection(
                coll,
                embedding_model=self.embedder.model,
                embedding_dim=self.embedder.dim,
                metadata={"kind": "nl2sql-schema", "connection": connection_name},
            )
            results = self.indexer.index_many(docs)
            errors = [r for r in results if isinstance(r, Exception)]
            if errors:
                raise errors[0]
            changed = sum(1 for r in results if not isinstance(r, Exception) and r.changed)
            keep = [d.id for d in docs]
            with self.store.connect() as conn, conn.transaction():
                deleted = conn.execute(
                    "DELETE FROM documents WHERE collection = %s AND NOT (id = ANY(%s))", (coll, keep)
                ).rowcount
                conn.execute("DELETE FROM nl2sql_values WHERE collection = %s", (coll,))
                with conn.cursor() as cur:
                    cur.executemany(
                        "INSERT INTO nl2sql_values (collection, table_name, column_name, value, norm) "
                        "VALUES (%s, %s, %s, %s, %s)",
                        [(coll, t, c, v, normalise(v)) for t, c, v in values],
                    )
                conn.execute(
                    "INSERT INTO nl2sql_link_index (collection, content_hash, documents, n_values) "
                    "VALUES (%s, %s, %s, %s) ON CONFLICT (collection) DO UPDATE SET "
                    "content_hash = EXCLUDED.content_hash, documents = EXCLUDED.documents, "
                    "n_values = EXCLUDED.n_values, indexed_at = now()",
                    (coll, fingerprint, len(docs), len(values)),
                )
        return IndexReport(
            collection=coll, status="indexed", documents=len(docs), changed=changed, deleted=deleted, values=len(values)
        )

    # -- linking -------------------------------------------------------------------------------------------
    def link(
        self,
        connection_name: str,
        question: str,
        schema: SchemaInfo,
        layer: SemanticLayer | None = None,
        *,
        k_tables: int | None = None,
    ) -> LinkedSchema:
        """The tables, columns, metrics, matched values and joins ``question`` needs, and their prompt text.

        Indexes the schema on first use. ``k_tables`` caps the tables picked from the evidence (join tables come
        on top, up to ``link_max_join_tables``).
        """
        k_tables = k_tables or self.settings.link_max_tables
        with span("nl2sql.link", collection=collection_name(connection_name), k_tables=k_tables) as s:
            signals = self._signals(connection_name, question, schema, layer)
            tables = self._pick(signals, k_tables)
            if tables and len(schema.tables) <= self.settings.link_whole_schema_tables:
                # the whole schema fits: linking only orders it (best evidence first); dropping a table here
                # would cost accuracy and save no context
                tables += [t for t in schema.table_names() if t not in tables]
            tables, joins = _connect(tables, schema, layer, signals, self.settings.link_max_join_tables)
            linked = self._render(tables, joins, signals, schema, layer)
            s.set_attribute("tables", len(linked.tables))
        return linked

    def _signals(
        self, connection_name: str, question: str, schema: SchemaInfo, layer: SemanticLayer | None
    ) -> _Signals:
        sig = _Signals()
        if not normalise(question):
            return sig
        canon = {t.name.lower(): t.name for t in schema.tables}
        self._search_signals(connection_name, question, schema, layer, sig, canon)
        if layer:
            _synonym_signals(question, schema, layer, sig, canon)
        self._value_signals(connection_name, question, sig)
        return sig

    def _search_signals(
        self,
        connection_name: str,
        question: str,
        schema: SchemaInfo,
        layer: SemanticLayer | None,
        sig: _Signals,
        canon: dict[str, str],
    ) -> None:
        request = SearchRequest(
            collection=collection_name(connection_name),
            query=question,
            principal=PRINCIPAL,
            mode="hybrid",
            lexical="any",
            fusion="convex",  # keeps score gaps (RRF flattens them on a small collection)
            k=self.settings.link_candidates,
            candidates=self.settings.link_candidates,
        )
        try:
            hits = self.searcher.search(request)
        except CollectionNotFoundError:
            self.index(connection_name, schema, layer)
            hits = self.searcher.search(request)
        if not hits:
            return
        best = max(h.score for h in hits) or 1.0
        column_mass: dict[str, float] = defaultdict(float)
        for hit in hits:
            rel = hit.score / best
            if rel < _MIN_HIT:
                break
            meta = hit.metadata
            kind = meta.get("kind")
            table = canon.get(str(meta.get("table", "")).lower())
            if kind == "table" and table:
                sig.score[table] += rel
            elif kind == "column" and table:
                # A wide table must not win on many weak column hits: column evidence per table is capped.
                add = min(0.6 * rel, 1.0 - column_mass[table])
                column_mass[table] += add
                sig.score[table] += add
                if rel >= 0.5:
                    sig.columns[table].add(str(meta["column"]))
            elif kind == "metric":
                name = str(meta["metric"])
                sig.metrics[name] = max(sig.metrics.get(name, 0.0), rel)
                for t in meta.get("tables", []):
                    if t.lower() in canon:
                        sig.score[canon[t.lower()]] += 0.5 * rel

    def _value_signals(self, connection_name: str, question: str, sig: _Signals) -> None:
        """Stored values found in the question: whole phrases by trigram similarity, single words exactly.

        A phrase match ('credit card' → 'credit_card') is strong evidence and makes its table explicit; a single
        shared word ('card' → 'gift_card') counts only for words no phrase match already explains.
        """
        tokens = _content_tokens(question)
        if not tokens:
            return
        query = """
            SELECT table_name, column_name, value, norm, strict_word_similarity(norm, %(q)s) AS sim
            FROM nl2sql_values
            WHERE collection = %(c)s
              AND (strict_word_similarity(norm, %(q)s) >= %(min)s OR string_to_array(norm, ' ') && %(tokens)s::text[])
            ORDER BY sim DESC, table_name, column_name, value
            LIMIT 50
        """
        params = {
            "c": collection_name(connection_name),
            "q": normalise(question),
            "tokens": tokens,
            "min": self.settings.link_value_min_similarity,
        }
        with self.store.connect() as conn:
            rows = conn.execute(query, params).fetchall()
        phrase = [r for r in rows if r[4] >= self.settings.link_value_min_similarity]
        covered = {w for r in phrase for w in r[3].split()}
        token_set = set(tokens)
        matches: list[tuple[str, str, str, float, bool]] = [(t, c, v, float(sim), True) for t, c, v, _, sim in phrase]
        for table, column, value, norm, _sim in rows:
            words = norm.split()
            fresh = (set(words) & token_set) - covered
            if fresh and not any(m[:3] == (table, column, value) for m in matches):
                matches.append((table, column, value, 0.9 * len(fresh) / len(words), False))
        matches = sorted(matches, key=lambda m: -m[3])[:12]
        by_value: dict[str, set[str]] = defaultdict(set)
        for table, _column, value, _score, _ in matches:
            by_value[normalise(value)].add(table)
        for table, column, value, score, is_phrase in matches:
            sig.values.append((table, column, value))
            sig.columns[table].add(column)
            # The same value in several tables (a 'completed' order and payment status) is weaker evidence for each.
            sig.score[table] += score / len(by_value[normalise(value)])
            if is_phrase and len(by_value[normalise(value)]) == 1:
                sig.explicit.add(table)

    def _pick(self, sig: _Signals, k_tables: int) -> list[str]:
        ranked = sorted(sig.score, key=lambda t: (-sig.score[t], t))
        if not ranked:
            return []
        best = sig.score[ranked[0]]
        floor = self.settings.link_min_relative_score * best
        picked = [t for t in ranked if t in sig.explicit or sig.score[t] >= floor]
        return picked[:k_tables]

    # -- rendering -----------------------------------------------------------------------------------------
    def _render(
        self,
        tables: list[str],
        joins: list[tuple[str, str]],
        sig: _Signals,
        schema: SchemaInfo,
        layer: SemanticLayer | None,
    ) -> LinkedSchema:
        s = self.settings
        metrics = _relevant_metrics(tables, sig, layer)
        values = [(t, c, v) for t, c, v in sig.values if t in tables]
        levels = [
            (s.link_max_columns, s.link_description_chars, True),
            (s.link_max_columns, min(s.link_description_chars, 60), True),
            (s.link_max_columns, min(s.link_description_chars, 60), False),
            (max(4, s.link_max_columns // 2), 0, False),
        ]
        current = list(tables)
        while True:
            for max_cols, desc_chars, samples in levels:
                kept_joins = [j for j in joins if j[0] in current and j[1] in current]
                kept_metrics = (
                    [m for m in metrics if all(t in current for t in layer.metrics[m].tables)] if layer else []
                )
                prompt, columns = _prompt(
                    current, kept_joins, sig, schema, layer, kept_metrics, values, max_cols, desc_chars, samples
                )
                if len(prompt) <= s.link_max_chars or len(current) <= 1:
                    return LinkedSchema(
                        tables=current,
                        columns=columns,
                        metrics=kept_metrics,
                        values=[f"{t}.{c} = '{v}'" for t, c, v in values if t in current],
                        joins=[j[2] for j in kept_joins],
                        prompt=prompt[: s.link_max_chars],
                    )
            current = current[:-1]  # the lowest-ranked table goes first


def _synonym_signals(
    question: str, schema: SchemaInfo, layer: SemanticLayer, sig: _Signals, canon: dict[str, str]
) -> None:
    """Exact semantic-layer terms in the question (longest n-grams first; singular forms too)."""
    index = layer.synonym_index()
    words = normalise(question).split()
    used: set[int] = set()
    for n in range(4, 0, -1):
        for i in range(len(words) - n + 1):
            if used & set(range(i, i + n)):
                continue
            gram = " ".join(words[i : i + n])
            target = index.get(gram) or index.get(" ".join([*words[i : i + n - 1], _singular(words[i + n - 1])]))
            if not target:
                continue
            used |= set(range(i, i + n))
            if target.startswith("metric:"):
                name = target.removeprefix("metric:")
                if name in layer.metrics:
                    sig.metrics[name] = max(sig.metrics.get(name, 0.0), 2.0)
                    for t in layer.metrics[name].tables:
                        if t.lower() in canon:
                            sig.score[canon[t.lower()]] += 1.5
                            sig.explicit.add(canon[t.lower()])
                continue
            table_name, _, column = target.partition(".")
            table = canon.get(table_name.lower())
            if table is None:
                continue
            sig.explicit.add(table)
            sig.score[table] += 1.5 if column else 2.0
            if column:
                sig.columns[table].add(column)


def _relevant_metrics(tables: list[str], sig: _Signals, layer: SemanticLayer | None) -> list[str]:
    """Named metrics, and retrieved ones that are close to the best hit, whose tables are all linked."""
    if not layer:
        return []
    lowered = {t.lower() for t in tables}
    chosen = [
        m
        for m, score in sorted(sig.metrics.items(), key=lambda kv: -kv[1])
        if score >= 0.6 and m in layer.metrics and all(t.lower() in lowered for t in layer.metrics[m].tables)
    ]
    return chosen[:4]


# -- joins -----------------------------------------------------------------------------------------------------
def join_graph(schema: SchemaInfo, layer: SemanticLayer | None) -> dict[str, list[tuple[str, str]]]:
    """Undirected table graph: table → [(neighbour, "a.x = b.y")], from join paths and foreign keys."""
    canon = {t.name.lower(): t.name for t in schema.tables}
    graph: dict[str, list[tuple[str, str]]] = defaultdict(list)
    seen: set[frozenset[str]] = set()

    def add(a_ref: str, b_ref: str) -> None:
        a_t, _, a_c = a_ref.partition(".")
        b_t, _, b_c = b_ref.partition(".")
        a, b = canon.get(a_t.lower()), canon.get(b_t.lower())
        key = frozenset({a_ref.lower(), b_ref.lower()})
        if not a or not b or a == b or key in seen:
            return
        seen.add(key)
        condition = f"{a}.{a_c} = {b}.{b_c}"
        graph[a].append((b, condition))
        graph[b].append((a, condition))

    for j in layer.joins if layer else []:
        add(j.from_, j.to)
    for table in schema.tables:
        for fk in table.foreign_keys:
            add(f"{table.name}.{fk.column}", f"{fk.ref_table}.{fk.ref_column or fk.column}")
    return graph


def _connect(
    tables: list[str], schema: SchemaInfo, layer: SemanticLayer | None, sig: _Signals, max_extra: int
) -> tuple[list[str], list[tuple[str, str, str]]]:
    """Add the tables on shortest join paths between the picked ones (greedy Steiner tree, best-scored first).

    Among equally short paths the one through better-scored tables wins (neighbours are visited in score order).
    Tables no join reaches stay, unjoined. Returns (tables, [(a, b, condition)]).
    """
    graph = join_graph(schema, layer)
    if not tables:
        return [], []
    out = [tables[0]]
    connected = {tables[0]}
    joins: list[tuple[str, str, str]] = []
    extra = 0
    for target in tables[1:]:
        if target in connected:
            continue
        prev: dict[str, tuple[str, str] | None] = dict.fromkeys(connected)
        frontier = deque(sorted(connected, key=lambda t: -sig.score.get(t, 0.0)))
        while frontier and target not in prev:
            node = frontier.popleft()
            for nb, cond in sorted(graph.get(node, []), key=lambda e: (-sig.score.get(e[0], 0.0), e[0])):
                if nb not in prev:
                    prev[nb] = (node, cond)
                    frontier.append(nb)
        if target not in prev:
            out.append(target)
            connected.add(target)
            continue
        path: list[tuple[str, str, str]] = []
        node = target
        while prev[node] is not None:
            parent, cond = prev[node]  # type: ignore[misc]
            path.append((parent, node, cond))
            node = parent
        new = [b for _, b, _ in path if b not in connected and b not in tables]
        if extra + len(new) > max_extra:
            out.append(target)
            connected.add(target)
            continue
        extra += len(new)
        for a, b, cond in reversed(path):
            joins.append((a, b, cond))
            connected.add(b)
            if b not in out and b != target:
                out.append(b)
        out.append(target)
    # Joins among picked tables that are directly related but were connected another way are hints too.
    for a in out:
        for b, cond in graph.get(a, []):
            if b in connected and a < b and not any({x, y} == {a, b} for x, y, _ in joins):
                joins.append((a, b, cond))
    ordered = [t for t in out if t in tables] + [t for t in out if t not in tables]
    return ordered, joins


# -- prompt ----------------------------------------------------------------------------------------------------
def _column_order(table: TableInfo, sig: _Signals, metric_cols: set[str], join_cols: set[str], cap: int) -> list[str]:
    """Keys, matched columns and metric columns first, then the rest in table order, at most ``cap``."""
    fk_cols = {fk.column for fk in table.foreign_keys}
    priority = []
    for col in table.columns:
        name = col.name
        key = f"{table.name}.{name}".lower()
        rank = (
            0
            if col.primary_key or key in join_cols
            else 1
            if name in sig.columns.get(table.name, set()) or key in metric_cols
            else 2
            if name in fk_cols
            else 3
        )
        priority.append((rank, len(priority), name))
    keep = {name for _, _, name in sorted(priority)[:cap]}
    return [c.name for c in table.columns if c.name in keep]


def _prompt(
    tables: list[str],
    joins: list[tuple[str, str, str]],
    sig: _Signals,
    schema: SchemaInfo,
    layer: SemanticLayer | None,
    metrics: list[str],
    values: list[tuple[str, str, str]],
    max_cols: int,
    desc_chars: int,
    samples: bool,
) -> tuple[str, list[str]]:
    metric_cols: set[str] = set()
    for m in metrics:
        metric = layer.metrics[m]  # type: ignore[union-attr]
        text = " ".join([metric.sql, metric.filter or "", metric.time_column or ""]).lower()
        metric_cols |= set(re.findall(r"\b\w+\.\w+\b", text))
    join_cols = {side.strip().lower() for _, _, cond in joins for side in cond.split("=")}
    value_cols = {(t, c): [] for t, c, _ in values}  # type: dict[tuple[str, str], list[str]]
    for t, c, v in values:
        value_cols[(t, c)].append(v)
    lines: list[str] = []
    rendered: list[str] = []
    for name in tables:
        table = schema.table(name)
        if table is None:
            continue
        tinfo = layer.tables.get(table.name) if layer else None
        fks = {fk.column: fk for fk in table.foreign_keys}
        if tinfo and tinfo.description and desc_chars:
            lines.append(f"-- {table.name}: {_cut(tinfo.description, desc_chars * 2)}")
        lines.append(f"CREATE TABLE {table.name} (")
        keep = _column_order(table, sig, metric_cols, join_cols, max_cols)
        body = []
        for col_name in keep:
            col = table.column(col_name)
            assert col is not None
            rendered.append(f"{table.name}.{col.name}")
            decl = f"  {col.name} {col.type or 'TEXT'}".rstrip()
            if col.primary_key:
                decl += " PRIMARY KEY"
            if col.name in fks and fks[col.name].ref_table:
                fk = fks[col.name]
                decl += f" REFERENCES {fk.ref_table}({fk.ref_column or col.name})"
            notes = []
            cinfo = tinfo.columns.get(col.name) if tinfo else None
            if cinfo and cinfo.description and desc_chars:
                notes.append(_cut(cinfo.description, desc_chars).rstrip("."))
            declared = cinfo.values if cinfo and cinfo.values else []
            if declared:
                notes.append("values: " + ", ".join(f"'{v}'" for v in declared[:10]))
            elif samples and col.samples:
                notes.append("e.g. " + ", ".join(f"'{_cut(v, 30)}'" for v in col.samples[:3]))
            body.append((decl, "; ".join(notes)))
        for i, (decl, note) in enumerate(body):
            comma = "," if i < len(body) - 1 else ""
            lines.append(f"{decl}{comma}" + (f" -- {note}" if note else ""))
        hidden = len(table.columns) - len(keep)
        if hidden:
            lines.append(f"  -- ({hidden} more columns not shown)")
        lines.append(");")
    if metrics and layer:
        lines.append("-- Metrics (use these expressions):")
        for m in metrics:
            metric = layer.metrics[m]
            expression = _in_dialect(metric.sql, layer.dialect, schema.dialect)
            where = f" WHERE {_in_dialect(metric.filter, layer.dialect, schema.dialect)}" if metric.filter else ""
            lines.append(f"-- metric {m} = {' '.join(expression.split())}{where}")
    if joins:
        lines.append("-- Joins:")
        lines.extend(f"-- {cond}" for _, _, cond in joins)
    if values:
        lines.append("-- Values matching the question:")
        lines.extend(f"-- {t}.{c} = '{v}'" for t, c, v in values)
    return "\n".join(lines), rendered


def _in_dialect(expression: str, source: str, target: str) -> str:
    """A semantic-layer expression in the connection's dialect (layers are written once, e.g. in SQLite syntax,
    and reused for a PostgreSQL copy of the same data); left as written when sqlglot cannot translate it."""
    if source == target:
        return expression
    try:
        return sqlglot.transpile(expression, read=source, write=target)[0]
    except SqlglotError:
        return expression
