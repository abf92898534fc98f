"""Alembic revisions (plain SQL through ``op.execute``); helpers here are shared with the store."""


def hnsw_index_sql(dim: int, m: int, ef_construction: int) -> str:
    """The partial HNSW expression index for one embedding dimension (idempotent)."""
    dim = int(dim)
    return (
        f"CREATE INDEX IF NOT EXISTS chunks_embedding_hnsw_{dim} ON chunks "
        f"USING hnsw ((embedding::vector({dim})) vector_cosine_ops) "
        f"WITH (m = {int(m)}, ef_construction = {int(ef_construction)}) WHERE dim = {dim}"
    )
