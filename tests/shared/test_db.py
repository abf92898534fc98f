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
