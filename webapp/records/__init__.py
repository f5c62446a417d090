"""Records: requests and their history, written consents, files, registers."""
from flask import Blueprint

bp = Blueprint("records", __name__, url_prefix="/records")

from . import diagram, routes  # noqa: E402,F401
