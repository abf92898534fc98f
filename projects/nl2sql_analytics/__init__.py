"""NL-to-SQL analytics: ask a database in plain language, get checked SQL, a chart and insights."""
