"""Designer views (to be built)."""
from __future__ import annotations

from flask import abort
from flask_login import login_required

from . import bp


@bp.route("/")
@login_required
def index():
    abort(404)
