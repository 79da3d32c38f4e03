"""What every page view shares: its HTTP methods, the signed-in actor, errors as pages."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from openect.errors import AccessDeniedError, OpenECTError, http_status
from openect.registry.access import Actor

View = Callable[..., HttpResponse]

#: Title of the error page of each HTTP status.
ERROR_TITLES = {
    400: "Not done",
    403: "Not allowed",
    404: "Not found",
    409: "In use",
    422: "Not valid",
    503: "Not available",
}


def error_page(request: HttpRequest, title: str, message: str, status: int) -> HttpResponse:
    """The error page with ``title`` and ``message`` and HTTP ``status``."""
    return render(request, "web/error.html", {"title": title, "message": message}, status=status)


def with_actor(view: Callable[..., HttpResponse]) -> View:
    """Decorator: sign-in required; passes the registry :class:`Actor` as ``actor``.

    A user without a registry role gets a 403 page; a record outside the actor's scope
    (NotFoundError) a 404 page, so that other centres' records look absent; any other
    :class:`~openect.errors.OpenECTError` the page of its HTTP status (by its type).
    """

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        try:
            actor = Actor.of(request.user)
        except AccessDeniedError as error:
            return error_page(request, "No access", str(error), 403)
        try:
            return view(request, *args, actor=actor, **kwargs)
        except OpenECTError as error:
            status = http_status(error)
            return error_page(request, ERROR_TITLES.get(status, "Not done"), str(error), status)

    return wrapped


def allow(*methods: str) -> Callable[[View], View]:
    """Decorator: the view answers only ``methods`` (``"GET"`` also allows ``HEAD``);
    any other method gets the error page with status 405 and an ``Allow`` header.

    The wrapped view keeps the list as ``allowed_methods`` (the tests read it).
    """
    allowed = tuple(dict.fromkeys(m.upper() for m in methods))
    answered = allowed + (("HEAD",) if "GET" in allowed and "HEAD" not in allowed else ())

    def decorate(view: View) -> View:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if request.method not in answered:
                response = error_page(
                    request,
                    "Method not allowed",
                    f"{request.method} is not answered here; allowed: {', '.join(answered)}.",
                    405,
                )
                response["Allow"] = ", ".join(answered)
                return response
            return view(request, *args, **kwargs)

        wrapped.allowed_methods = answered  # type: ignore[attr-defined]
        return wrapped

    return decorate
