import numpy as np

from shared.db import connect


def test_embedded_postgres_has_pgvector(database_url: str) -> None:
    with connect(database_url) as conn:
        conn.execute("CREATE TABLE v (id int primary key, e vector(3))")
        conn.execute("INSERT INTO v VALUES (1, %s), (2, %s)", (np.array([1, 0, 0]), np.array([0, 1, 0])))
        # a connection opened after the extension exists gets the vector type registered
        row = conn.execute("SELECT id, e FROM v ORDER BY e <=> %s LIMIT 1", (np.array([0.9, 0.1, 0]),)).fetchone()
    assert row[0] == 1
    assert row[1].to_list() == [1.0, 0.0, 0.0]


def test_each_test_gets_an_empty_database(database_url: str) -> None:
    with connect(database_url) as conn:
        assert conn.execute("SELECT to_regclass('v')").fetchone()[0] is None


def test_a_pooled_connection_opened_before_the_vector_extension_gets_its_types(database_url: str) -> None:
    """A project's tables first, the retrieval migrations later, in one process: the pool's older connection
    must still copy vectors (it failed with "couldn't find the type 'vector'")."""
    import psycopg

    from shared.db import close_pools, connection, ensure_vector_types

    try:
        with psycopg.connect(database_url, autocommit=True) as admin:
            admin.execute("DROP EXTENSION IF EXISTS vector CASCADE")
        with connection(database_url) as conn:  # opened (and configured) without the extension
            assert conn.adapters.types.get("vector") is None
        with psycopg.connect(database_url, autocommit=True) as admin:
            admin.execute("CREATE EXTENSION vector")
        with connection(database_url) as conn:
            ensure_vector_types(conn)
            value = conn.execute("SELECT %s::vector", (np.array([1.0, 2.0], dtype=np.float32),)).fetchone()[0]
        assert value.to_list() == [1.0, 2.0]
    finally:
        close_pools()
