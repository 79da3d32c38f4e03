"""Routers of the REST API (each module adds its own).

``records``: the rows of every data-model entity and the audit trail; ``voiding``: void
and restore records entered in error;
``planning``: the session and lesion planners; ``response``: the response of a measurement
before it is saved (first: ``/lesions/{id}/response-preview`` must not be taken for a
record id). ``schemas.install`` maps the registry's exceptions to the API's error responses.
"""

from __future__ import annotations

from openect.web.api import api, planning, records, response, schemas, voiding

schemas.install(api)
api.add_router("/", response.router)
api.add_router("/", records.router)
api.add_router("/", planning.router)
api.add_router("/", voiding.router)
