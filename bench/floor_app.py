"""The WSGI application `bench.http` runs under gunicorn: Haven itself, with two floors beside it.

    /bare/json     a bare Flask view answering a small JSON object (no database)
    /bare/insert   a bare Flask view doing one INSERT in its own transaction (one query)

Both are mounted in front of Haven in the same process, so they share its gunicorn, its
workers and its database: the ratios `bench.http` prints compare like with like. Never used by
the application itself.
"""

import os
import uuid

import sqlalchemy as sa
from flask import Flask, jsonify, request
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from server import create_app

FLOOR_TABLE = "bench_floor"
_metadata = sa.MetaData()
floor = sa.Table(
    FLOOR_TABLE,
    _metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("uuid", sa.String(36), nullable=False, unique=True),
    sa.Column("body", sa.Text, nullable=False),
)


def create_floor_table(url: str) -> None:
    engine = sa.create_engine(url)
    _metadata.create_all(engine)
    engine.dispose()


def bare_app(url: str) -> Flask:
    bare = Flask("bare")
    engine = sa.create_engine(url, pool_pre_ping=True)

    @bare.get("/json")
    def bare_json():
        return jsonify(ok=True, service="bare")

    @bare.post("/insert")
    def bare_insert():
        with engine.begin() as connection:
            connection.execute(
                floor.insert().values(uuid=str(uuid.uuid4()), body=request.get_data(as_text=True))
            )
        return jsonify(ok=True), 201

    return bare


def create_bench_app():
    haven = create_app()
    url = haven.config["SQLALCHEMY_DATABASE_URI"]
    haven.wsgi_app = DispatcherMiddleware(haven.wsgi_app, {"/bare": bare_app(url)})
    return haven


if os.environ.get("HAVEN_BENCH_CHECK"):  # pragma: no cover (a manual check of the import)
    create_bench_app()
