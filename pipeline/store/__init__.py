"""Storage: one SQLAlchemy Core schema for SQLite (the default) and PostgreSQL.

`db.py` makes engines and runs migrations; `schema.py` declares the pipeline's tables;
`store.py` is the narrow interface the stages call.
"""
