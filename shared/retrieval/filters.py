"""The WHERE clause every read shares: collection scope, access control, metadata filters.

Access control lives here and only here, so dense, full-text, hybrid search and counts cannot
disagree about who sees what. It is a SQL predicate evaluated *inside* each candidate query
(before LIMIT), never a filter applied to results afterwards.
"""

from __future__ import annotations

from typing import Any

from psycopg import sql
from psycopg.types.json import Jsonb

from shared.retrieval.models import Principal, SearchFilters


def where_clause(
    collection: str, principal: Principal | None, filters: SearchFilters | None = None, alias: str = "c"
) -> tuple[sql.Composed, dict[str, Any]]:
    """Predicate over ``chunks`` (as ``alias``) plus its parameters. ``principal=None`` = unrestricted
    (administrative counts only; no search path accepts it)."""
    a = sql.Identifier(alias)
    parts: list[sql.Composable] = [sql.SQL("{}.collection = %(w_collection)s").format(a)]
    params: dict[str, Any] = {"w_collection": collection}
    if principal is not None:
        parts.append(sql.SQL("{}.tenant_id = %(w_tenant)s").format(a))
        parts.append(sql.SQL("{}.allowed_groups && %(w_groups)s::text[]").format(a))
        params["w_tenant"] = principal.tenant_id
        params["w_groups"] = principal.effective_groups
    f = filters or SearchFilters()
    if f.source_uris:
        parts.append(sql.SQL("{}.source_uri = ANY(%(w_sources)s::text[])").format(a))
        params["w_sources"] = f.source_uris
    if f.doc_types:
        parts.append(sql.SQL("{}.doc_type = ANY(%(w_types)s::text[])").format(a))
        params["w_types"] = f.doc_types
    if f.date_from:
        parts.append(sql.SQL("{}.source_date >= %(w_from)s").format(a))
        params["w_from"] = f.date_from
    if f.date_to:
        parts.append(sql.SQL("{}.source_date < %(w_to)s").format(a))
        params["w_to"] = f.date_to
    if f.tags_any:
        parts.append(sql.SQL("({}.metadata -> 'tags') ?| %(w_tags)s::text[]").format(a))
        params["w_tags"] = f.tags_any
    if f.metadata:
        parts.append(sql.SQL("{}.metadata @> %(w_meta)s").format(a))
        params["w_meta"] = Jsonb(f.metadata)
    for i, (key, values) in enumerate(sorted((f.metadata_in or {}).items())):
        parts.append(
            sql.SQL("({}.metadata ->> %(w_in_key{i})s) = ANY(%(w_in{i})s::text[])").format(a, i=sql.SQL(str(i)))
        )
        params[f"w_in_key{i}"], params[f"w_in{i}"] = key, values
    for i, (key, bounds) in enumerate(sorted((f.metadata_ranges or {}).items())):
        # CASE, not AND: SQL does not promise to evaluate the type test before the cast
        value = sql.SQL(
            "(CASE WHEN jsonb_typeof({a}.metadata -> %(w_rk{i})s) = 'number' "
            "THEN ({a}.metadata ->> %(w_rk{i})s)::float8 END)"
        ).format(a=a, i=sql.SQL(str(i)))
        params[f"w_rk{i}"] = key
        if bounds.min is not None:
            parts.append(sql.SQL("{} >= %(w_rmin{i})s").format(value, i=sql.SQL(str(i))))
            params[f"w_rmin{i}"] = bounds.min
        if bounds.max is not None:
            parts.append(sql.SQL("{} <= %(w_rmax{i})s").format(value, i=sql.SQL(str(i))))
            params[f"w_rmax{i}"] = bounds.max
    return sql.SQL(" AND ").join(parts), params
