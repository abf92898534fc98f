"""NL-to-SQL analytics: ask a database in plain language, get validated SQL, a chart and verified insights."""
