"""The process owners' designer: model, validate, version and deploy flows (issue 5)."""
from flask import Blueprint

bp = Blueprint("designer", __name__, url_prefix="/designer")

from . import routes  # noqa: E402,F401
