"""Template context: the signed-in user's registry role and centre."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from openect.errors import AccessDeniedError
from openect.registry.access import Actor


def membership(request: HttpRequest) -> dict[str, Any]:
    """``actor`` (or None) for every template."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"actor": None}
    try:
        return {"actor": Actor.of(user)}
    except AccessDeniedError:
        return {"actor": None}
