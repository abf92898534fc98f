"""Dev evaluation parts: the defog sql-eval dataset, read-only execution, result comparison, the naive baseline."""
