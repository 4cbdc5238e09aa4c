"""Alembic environment: the engine is handed over by syncd.store.db (no alembic.ini needed)."""

from alembic import context
from sqlalchemy import create_engine

from syncd.store.models import all_models

config = context.config
target_metadata = all_models()


def run_migrations_online() -> None:
    engine = config.attributes.get("engine")
    if engine is None:  # `alembic` run by hand: take the URL from -x url=...
        engine = create_engine(context.get_x_argument(as_dictionary=True)["url"])
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run_migrations_online()
