"""Alembic environment: the engine comes from the caller (pipeline.store.db.upgrade)."""

from alembic import context
from sqlalchemy import create_engine

import subscribers.schema  # noqa: F401  (registers the audience tables on the metadata)
from pipeline.store.schema import metadata

config = context.config


def run() -> None:
    engine = config.attributes.get("engine")
    if engine is None:  # plain `alembic` command line: take the URL from alembic.ini
        url = config.get_main_option("sqlalchemy.url")
        if url is None:
            raise RuntimeError("alembic.ini: no sqlalchemy.url to migrate")
        engine = create_engine(url)
    with engine.begin() as connection:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        context.run_migrations()


run()
