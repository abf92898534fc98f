"""Code search over one repository's index: exact symbol lookups ("where is X defined / used") from the ``ca_*``
tables, hybrid retrieval (dense + full text) over its chunks, and what the repo map and snippets read.

Vectors alone answer "where is ``save`` defined" badly (every method that saves something looks alike), so
definitions and references come from the symbol tables, and a question that names an identifier gets that
identifier's definition merged in ahead of the hybrid hits. Nothing here reads a file: snippets come from the
stored chunks, so no API path can be turned into a read of an arbitrary file.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

from psycopg.rows import dict_row

from projects.code_assistant.store import PRINCIPAL, CodeIndexStore, collection_name
from projects.code_assistant.types import Reference, Symbol
from shared.db import connection
from shared.retrieval import Searcher, SearchFilters, SearchRequest
from shared.retrieval.models import SearchResult, document_id
from shared.serving.base import Embedder

_SYMBOL_COLUMNS = "path, name, qualname, kind, start_line, end_line, signature, docstring"
_BACKTICKED = re.compile(r"`([^`\s]+)`")
_TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*(?:\(\))?")
_WORD = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")
_MAX_SNIPPET_LINES = 2000


@dataclass(frozen=True, slots=True)
class Definition:
    path: str
    start_line: int
    end_line: int
    name: str
    qualname: str
    kind: str
    signature: str
    docstring: str | None
    match: str  # "exact" | "qualified" | "case" | "fuzzy"

    @property
    def location(self) -> str:
        return f"{self.path}:{self.start_line}-{self.end_line}"


@dataclass(frozen=True, slots=True)
class ReferenceGroup:
    path: str
    lines: tuple[int, ...]
    kinds: tuple[str, ...]  # the distinct kinds of use in this file ("call", "import", "name")


@dataclass(frozen=True, slots=True)
class CodeHit:
    path: str
    start_line: int
    end_line: int
    text: str
    symbol: str | None
    score: float
    kind: str
    language: str | None = None
    signature: str | None = None
    boosted: bool = False  # merged in because the question named this symbol
    dense_rank: int | None = None
    fulltext_rank: int | None = None

    @property
    def location(self) -> str:
        return f"{self.path}:{self.start_line}-{self.end_line}"


@dataclass(frozen=True, slots=True)
class Snippet:
    path: str
    start_line: int
    end_line: int
    text: str


def _module(path: str) -> str:
    """``pkg/auth.py`` -> ``pkg.auth`` (how a question names a module)."""
    return path.rsplit(".", 1)[0].replace("/", ".") if "." in path.rsplit("/", 1)[-1] else path.replace("/", ".")


def _dotted_suffix(full: str, suffix: str) -> bool:
    return full == suffix or full.endswith("." + suffix)


def identifiers(query: str) -> list[str]:
    """Identifier-shaped tokens of a question, in order: backticked names, snake_case, CamelCase, dotted names,
    ``call()`` forms, and capitalised words that do not start the question (a class name: "where is Repository
    used"). Plain words are left out: "how do we run tests" must not jump to a function called ``run``."""
    out: list[str] = [m.removesuffix("()") for m in _BACKTICKED.findall(query)]
    rest = _BACKTICKED.sub(" ", query)
    for i, match in enumerate(_TOKEN.finditer(rest)):
        token = match.group(0)
        name = token.removesuffix("()")
        shaped = (
            token.endswith("()")
            or "_" in name.strip("_")
            or "." in name
            or re.search(r"[a-z0-9][A-Z]", name) is not None
            or (i > 0 and name[:1].isupper())
        )
        if shaped and name not in out:
            out.append(name)
    return out


class CodeSearch:
    """Read side of the code index for one process (stateless apart from the searcher)."""

    def __init__(self, store: CodeIndexStore, embedder: Embedder | None = None) -> None:
        self.store = store
        self.url = store.url
        self.embedder = embedder or store.embedder
        self.searcher = Searcher(store.vectors, self.embedder)

    # -- symbols ----------------------------------------------------------------------------------------

    def find_definitions(self, repo_id: str, name: str, kind: str | None = None, limit: int = 20) -> list[Definition]:
        """Definitions of ``name``: exact name or qualified name, then a dotted suffix (``Repo.save``,
        ``auth.hash_password``), then case-insensitive; only when all of these find nothing, trigram-fuzzy
        matches on the qualified name (a misspelling)."""
        q = name.strip().strip("`").removesuffix("()")
        if not q:
            return []
        found = self._definitions(repo_id, q, kind, limit, ("exact", "qualified", "case"))
        return found or self._fuzzy(repo_id, q, kind, limit)

    def _definitions(
        self, repo_id: str, q: str, kind: str | None, limit: int, tiers: Sequence[str]
    ) -> list[Definition]:
        last = q.rsplit(".", 1)[-1]
        kind_sql = " AND kind = %(kind)s" if kind else ""
        params = {"repo": repo_id, "q": q, "last": last, "kind": kind, "limit": limit * 4}
        out: dict[tuple[str, int, str], Definition] = {}
        with connection(self.url, row_factory=dict_row) as conn:
            for tier in tiers:
                if tier == "exact":
                    where = "(name = %(q)s OR qualname = %(q)s)"
                elif tier == "qualified":
                    if "." not in q:
                        continue
                    where = "name = %(last)s"
                else:
                    where = "lower(name) = lower(%(last)s)"
                rows = conn.execute(
                    f"SELECT {_SYMBOL_COLUMNS} FROM ca_symbols WHERE repo_id = %(repo)s AND {where}{kind_sql} "
                    "ORDER BY path, start_line LIMIT %(limit)s",
                    params,
                ).fetchall()
                for row in rows:
                    if tier == "qualified" and not self._qualified_match(row, q):
                        continue
                    if tier == "case" and "." in q and not self._qualified_match(row, q, fold=True):
                        continue
                    key = (row["path"], row["start_line"], row["qualname"])
                    if key not in out:
                        out[key] = Definition(**row, match=tier)
                if len(out) >= limit:
                    break
        return list(out.values())[:limit]

    @staticmethod
    def _qualified_match(row: dict[str, Any], q: str, *, fold: bool = False) -> bool:
        names = (row["qualname"], f"{_module(row['path'])}.{row['qualname']}")
        if fold:
            return any(_dotted_suffix(n.lower(), q.lower()) for n in names)
        return any(_dotted_suffix(n, q) for n in names)

    def _fuzzy(self, repo_id: str, q: str, kind: str | None, limit: int) -> list[Definition]:
        kind_sql = " AND kind = %(kind)s" if kind else ""
        with connection(self.url, row_factory=dict_row) as conn:
            rows = conn.execute(
                f"SELECT {_SYMBOL_COLUMNS} FROM ca_symbols WHERE repo_id = %(repo)s AND qualname %% %(q)s{kind_sql} "
                "ORDER BY similarity(qualname, %(q)s) DESC, path, start_line LIMIT %(limit)s",
                {"repo": repo_id, "q": q, "kind": kind, "limit": limit},
            ).fetchall()
        return [Definition(**r, match="fuzzy") for r in rows]

    def find_references(self, repo_id: str, name: str, limit: int = 50) -> list[ReferenceGroup]:
        """Uses of ``name`` (the last part of a dotted name: references are recorded by bare name), grouped by
        file, the files with the most uses first; at most ``limit`` files."""
        q = name.strip().strip("`").removesuffix("()").rsplit(".", 1)[-1]
        with connection(self.url) as conn:
            rows = conn.execute(
                "SELECT path, array_agg(DISTINCT line ORDER BY line), array_agg(DISTINCT kind ORDER BY kind) "
                "FROM ca_references WHERE repo_id = %s AND name = %s GROUP BY path "
                "ORDER BY count(*) DESC, path LIMIT %s",
                (repo_id, q, limit),
            ).fetchall()
        return [ReferenceGroup(path=r[0], lines=tuple(r[1]), kinds=tuple(r[2])) for r in rows]

    # -- retrieval --------------------------------------------------------------------------------------

    def search(
        self,
        repo_id: str,
        query: str,
        k: int = 8,
        paths: Sequence[str] | None = None,
        language: str | None = None,
    ) -> list[CodeHit]:
        """Hybrid (dense + full text, RRF) search over the repository's chunks; definitions of identifiers the
        query names come first. ``paths`` holds files or folders (a folder matches every file under it)."""
        self.store.require_repo(repo_id)
        if not query.strip():
            return []
        sources = self._expand_paths(repo_id, paths) if paths else None
        if sources is not None and not sources:
            return []
        meta = {"language": language} if language else None
        filters = SearchFilters(source_uris=sources, metadata=meta) if (sources or meta) else None
        pool = max(self.store.settings.search_candidates, k)
        request = SearchRequest(
            collection=collection_name(repo_id),
            query=query,
            principal=PRINCIPAL,
            mode="hybrid",
            lexical=self.store.settings.search_lexical,
            k=pool,  # every fused candidate comes back: the name signal below re-ranks them
            candidates=pool,
            filters=filters,
        )
        hits = fuse_with_names(query, [self._hit(r) for r in self.searcher.search(request)], request.rrf_k)
        boosted = self._identifier_hits(repo_id, query, hits, set(sources) if sources else None, language)
        top = hits[0].score if hits else 1.0
        seen = {(b.path, b.start_line) for b in boosted}
        merged = [_with_score(b, top) for b in boosted] + [h for h in hits if (h.path, h.start_line) not in seen]
        return merged[:k]

    @staticmethod
    def _hit(r: SearchResult) -> CodeHit:
        m = r.metadata
        return CodeHit(
            dense_rank=r.dense_rank,
            fulltext_rank=r.fulltext_rank,
            path=m.get("path", r.source_uri),
            start_line=int(m["start_line"]),
            end_line=int(m["end_line"]),
            text=r.text,
            symbol=m.get("symbol"),
            score=r.score,
            kind=m.get("kind", "lines"),
            language=m.get("language"),
            signature=m.get("signature"),
        )

    def _expand_paths(self, repo_id: str, paths: Sequence[str]) -> list[str]:
        """Files of the index equal to a given path or under a given folder (matched in the index, never on disk)."""
        exact = [p.strip().removeprefix("./").rstrip("/") for p in paths if p.strip()]
        prefixes = [re.sub(r"([\\%_])", r"\\\1", p) + "/%" for p in exact if p]
        with connection(self.url) as conn:
            rows = conn.execute(
                "SELECT path FROM ca_files WHERE repo_id = %s AND (path = ANY(%s) OR path LIKE ANY(%s)) ORDER BY path",
                (repo_id, exact, prefixes),
            ).fetchall()
        return [r[0] for r in rows]

    def _identifier_hits(
        self, repo_id: str, query: str, hits: list[CodeHit], sources: set[str] | None, language: str | None
    ) -> list[CodeHit]:
        """Definition chunks of the known symbols the query names. An identifier with more definitions than
        ``identifier_boost_max`` (``save`` in twenty classes) only lifts those the hybrid search found itself."""
        cap = self.store.settings.identifier_boost_max
        if cap == 0:
            return []
        in_hits = {(h.path, h.symbol) for h in hits}
        out: list[CodeHit] = []
        for ident in identifiers(query):
            defs = self._definitions(repo_id, ident, None, cap + 1, ("exact", "qualified"))
            if sources is not None:
                defs = [d for d in defs if d.path in sources]
            if len(defs) > cap:
                defs = [d for d in defs if (d.path, d.qualname) in in_hits]
            for d in defs:
                chunk = self._definition_chunk(repo_id, d, language)
                if chunk is not None and all((c.path, c.start_line) != (chunk.path, chunk.start_line) for c in out):
                    out.append(chunk)
                if len(out) >= cap:
                    return out
        return out

    def _definition_chunk(self, repo_id: str, d: Definition, language: str | None) -> CodeHit | None:
        coll = collection_name(repo_id)
        with connection(self.url) as conn:
            row = conn.execute(
                "SELECT text, metadata FROM chunks WHERE document_id = %s AND metadata ->> 'symbol' = %s "
                "AND (%s::text IS NULL OR metadata ->> 'language' = %s) ORDER BY ordinal LIMIT 1",
                (document_id(coll, d.path), d.qualname, language, language),
            ).fetchone()
        if row is None:
            return None
        m = row[1]
        return CodeHit(
            path=d.path,
            start_line=int(m["start_line"]),
            end_line=int(m["end_line"]),
            text=row[0],
            symbol=d.qualname,
            score=0.0,
            kind=m.get("kind", d.kind),
            language=m.get("language"),
            signature=m.get("signature"),
            boosted=True,
        )

    def get_snippet(self, repo_id: str, path: str, start: int, end: int) -> Snippet | None:
        """Lines ``start``-``end`` of an indexed file, rebuilt from its stored chunks (``None`` if none covers
        them). A line inside the range that no chunk covers (a blank line between definitions, if the parser
        left it out) comes back empty, so line numbers stay right."""
        start = max(1, start)
        end = min(max(start, end), start + _MAX_SNIPPET_LINES - 1)
        coll = collection_name(repo_id)
        with connection(self.url) as conn:
            rows = conn.execute(
                "SELECT text, (metadata ->> 'start_line')::int FROM chunks WHERE document_id = %s "
                "AND (metadata ->> 'start_line')::int <= %s AND (metadata ->> 'end_line')::int >= %s ORDER BY ordinal",
                (document_id(coll, path), end, start),
            ).fetchall()
        lines: dict[int, str] = {}
        for text, first in rows:
            for offset, line in enumerate(text.split("\n")):
                lines.setdefault(first + offset, line)
        covered = [n for n in range(start, end + 1) if n in lines]
        if not covered:
            return None
        lo, hi = covered[0], covered[-1]
        return Snippet(path, lo, hi, "\n".join(lines.get(n, "") for n in range(lo, hi + 1)))

    # -- repo map ---------------------------------------------------------------------------------------

    def symbols_for_map(self, repo_id: str, batch: int = 5000) -> Iterator[Symbol]:
        """Every symbol of the repository, by path and line, streamed through a server-side cursor (a large
        repository has hundreds of thousands; the repo map must not hold the rows twice)."""
        with connection(self.url) as conn, conn.transaction(), conn.cursor(name="ca_symbols_map") as cur:
            cur.itersize = batch
            cur.execute(
                "SELECT name, qualname, kind, path, start_line, end_line, signature, docstring, parent "
                "FROM ca_symbols WHERE repo_id = %s ORDER BY path, start_line, id",
                (repo_id,),
            )
            for row in cur:
                yield Symbol(*row)

    def references_for_map(self, repo_id: str, batch: int = 5000) -> Iterator[Reference]:
        """Every reference of the repository, by path and line, streamed like :meth:`symbols_for_map`."""
        with connection(self.url) as conn, conn.transaction(), conn.cursor(name="ca_references_map") as cur:
            cur.itersize = batch
            cur.execute(
                "SELECT name, path, line, kind FROM ca_references WHERE repo_id = %s ORDER BY path, line, id",
                (repo_id,),
            )
            for row in cur:
                yield Reference(*row)


def words(text: str) -> set[str]:
    """Lowercased, crudely stemmed words of prose or of an identifier (snake_case and CamelCase split):
    ``hash_password`` and "where do we hash passwords" share {hash, password}."""
    out = set()
    for part in _WORD.findall(text):
        w = part.lower()
        for suffix, repl in (("ies", "y"), ("ing", ""), ("es", ""), ("ed", ""), ("s", "")):
            if w.endswith(suffix) and len(w) - len(suffix) >= 3:
                w = w[: -len(suffix)] + repl
                break
        if len(w) >= 2:
            out.add(w)
    return out


def fuse_with_names(query: str, hits: list[CodeHit], rrf_k: int = 60) -> list[CodeHit]:
    """Re-rank hybrid candidates with a third, code-specific list: how much of the chunk's name (its symbol's qualified
    name, else the file's stem) the question's words cover. RRF over the dense, full-text and name ranks.

    Why: the full-text list rewards a caller that repeats the query's words (``register_user`` mentions
    "password" three times) as much as the function the question is about (``hash_password``); the name is the
    strongest hint a question gives about which definition it means."""
    qwords = words(query)
    covers = []
    for h in hits:
        name = h.symbol or h.path.rsplit("/", 1)[-1].split(".", 1)[0]
        nwords = words(name)
        covers.append(len(nwords & qwords) / len(nwords) if nwords else 0.0)
    distinct = sorted({c for c in covers if c > 0}, reverse=True)
    name_rank = {c: i + 1 for i, c in enumerate(distinct)}  # equal covers share a rank
    scored = []
    for h, cover in zip(hits, covers, strict=True):
        ranks = (h.dense_rank, h.fulltext_rank, name_rank.get(cover))
        scored.append(replace(h, score=sum(1.0 / (rrf_k + r) for r in ranks if r)))
    return sorted(scored, key=lambda h: (-h.score, h.dense_rank or 10**9))


def _with_score(hit: CodeHit, score: float) -> CodeHit:
    return replace(hit, score=score)
