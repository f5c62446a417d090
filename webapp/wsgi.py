"""The WSGI entry point for production servers: ``gunicorn webapp.wsgi:app``.

This is the composition root, so building the app here (at import) is the point;
library modules never do.
"""
import gc

from . import create_app

app = create_app()
# What start-up made (the app, mappers, templates, parsed diagrams) lives as long as the
# process: kept out of the collector's full scans, which would otherwise walk it every time.
gc.collect()
gc.freeze()
