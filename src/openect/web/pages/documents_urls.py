"""URLs of the documents pages (filled in by the module that serves them)."""

from __future__ import annotations

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
