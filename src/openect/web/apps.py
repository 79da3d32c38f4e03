"""Django application configuration of the web application."""

from __future__ import annotations

from django.apps import AppConfig


class WebConfig(AppConfig):
    """The ``openect.web`` Django app (label ``web``)."""

    name = "openect.web"
    label = "web"
    verbose_name = "OpenECT web"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        """Log sign-ins, failed sign-ins and sign-outs in the access log."""
        from openect.web import access_log

        access_log.connect()
