"""Routers of the REST API (each module adds its own)."""

from __future__ import annotations
