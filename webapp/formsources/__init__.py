"""Providers of form options (``x-source``), one module per register.

Importing this package imports each module, whose :func:`webapp.formschema.source`
decorators register the providers.
"""
from . import contracts, subcontractors  # noqa: F401
