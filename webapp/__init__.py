"""Shodaku: written-consent workflows for municipal outsourcing contracts."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from flask import Flask


def create_app(test_config: dict[str, Any] | None = None, *, clock_source: Callable[[], datetime] | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=True)

    from .ids import BoundedIntConverter

    app.url_map.converters["int"] = BoundedIntConverter

    from . import config

    config.load(app, test_config)

    from . import audit, clock, db_setup, formsources, i18n, logs, security, views_support  # noqa: F401
    from .extensions import csrf, db, login_manager, migrate

    logs.init_app(app)
    clock.init_app(app, clock_source)
    db.init_app(app)
    audit.init_app(app)
    db_setup.init_app(app)
    migrate.init_app(app, db, directory=str(app.root_path + "/migrations"))
    csrf.init_app(app)
    login_manager.init_app(app)
    i18n.init_app(app)
    security.init_app(app)
    views_support.init_app(app)

    from . import admin, api, auth, cli, designer, errors, health, inbox, records, requests

    app.register_blueprint(auth.bp)
    app.register_blueprint(inbox.bp)
    app.register_blueprint(requests.bp)
    app.register_blueprint(records.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(designer.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(errors.bp)
    app.register_blueprint(health.bp)
    cli.init_app(app)
    return app
