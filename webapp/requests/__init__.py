"""Starting new requests on one's contracts."""
from flask import Blueprint

bp = Blueprint("requests", __name__, url_prefix="/requests")

from . import routes  # noqa: E402,F401
