"""The WSGI entry point for production servers: ``gunicorn webapp.wsgi:app``.

This is the composition root, so building the app here (at import) is the point;
library modules never do.
"""
from . import create_app

app = create_app()
