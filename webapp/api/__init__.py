"""JSON API v1: personal access tokens, same authorization as the UI."""
from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")

from . import routes  # noqa: E402,F401
