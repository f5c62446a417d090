"""Small operational helpers run before the app exists (``python -m webapp.ops create-database``)."""
from __future__ import annotations

import os
import sys

import psycopg
from sqlalchemy.engine import make_url


def create_database() -> None:
    """Create the PostgreSQL database named in DATABASE_URL if it does not exist yet."""
    url = make_url(os.environ["DATABASE_URL"])
    if not url.drivername.startswith("postgresql"):
        return
    admin = url.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (url.database,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{url.database}"')
            print(f"created database {url.database}")


if __name__ == "__main__":
    if sys.argv[1:] == ["create-database"]:
        create_database()
    else:
        sys.exit("usage: python -m webapp.ops create-database")
