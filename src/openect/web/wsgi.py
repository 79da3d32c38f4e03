"""WSGI entry point (``openect serve`` runs it with gunicorn or waitress)."""

from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "openect.web.settings")
application = get_wsgi_application()
