"""Django application configuration of the registry."""

from __future__ import annotations

from django.apps import AppConfig


class RegistryConfig(AppConfig):
    """The ``openect.registry`` Django app (label ``registry``)."""

    name = "openect.registry"
    label = "registry"
    verbose_name = "OpenECT registry"
    default_auto_field = "django.db.models.BigAutoField"
