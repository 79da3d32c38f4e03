"""Requests whose text cannot be stored are refused before any view runs.

A NUL character (``\\x00``, or ``\\u0000`` in JSON) or bytes that are not UTF-8 in the
path, the query string or a form or JSON body would reach the database: PostgreSQL
refuses NUL in text (an error deep in a transaction), SQLite stores it and breaks the
exports later. :class:`InputGuardMiddleware` answers such a request with HTTP 400 naming
where the problem is: JSON ``{"detail": ...}`` under ``/api/``, a plain page elsewhere.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import unquote_to_bytes

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse

#: A JSON ``\\u0000`` escape (not itself escaped), in any case.
JSON_NUL = re.compile(rb"(?<!\\)\\u0000", re.IGNORECASE)
#: Body types whose raw text is read (multipart forms: their text fields are checked).
TEXT_BODIES = ("application/json", "application/x-www-form-urlencoded", "text/")


def text_problem(raw: bytes, where: str, json: bool = False) -> str | None:
    """Why ``raw`` (bytes of ``where``) cannot be stored as text; None when it can."""
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as error:
        return f"{where}: byte {error.start} is not UTF-8; allowed: UTF-8 text"
    if b"\x00" in raw or (json and JSON_NUL.search(raw)):
        return f"{where}: holds a NUL character; allowed: text without NUL"
    return None


def request_problem(request: HttpRequest) -> str | None:
    """The first part of ``request`` that cannot be stored as text, or None."""
    # PATH_INFO is the decoded path as WSGI gives it: its bytes as Latin-1 characters.
    raw_path = str(request.META.get("PATH_INFO", "")).encode("latin-1", "replace")
    problem = text_problem(raw_path, "path") or text_problem(
        unquote_to_bytes(request.META.get("QUERY_STRING", "")), "query string"
    )
    if problem is not None:
        return problem
    content_type = str(request.META.get("CONTENT_TYPE", "")).split(";")[0].strip().lower()
    if request.method not in ("POST", "PUT", "PATCH"):
        return None
    if content_type == "multipart/form-data":  # the form's text fields (files are not text)
        for name, values in request.POST.lists():
            if any("\x00" in value for value in [name, *values]):
                return f"form field {name[:64]!r}: holds a NUL character; allowed: text without NUL"
        return None
    if content_type.startswith(TEXT_BODIES):
        body = request.body
        if content_type == "application/x-www-form-urlencoded":
            body = unquote_to_bytes(body.replace(b"+", b" "))
        return text_problem(body, "body", json=content_type == "application/json")
    return None


class InputGuardMiddleware:
    """Refuse (400) a request holding NUL or non-UTF-8 text, before any view or session."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        problem = request_problem(request)
        if problem is None:
            return self.get_response(request)
        if request.path.startswith("/api/"):
            return JsonResponse({"detail": problem}, status=400)
        return HttpResponseBadRequest(
            f"Bad request: {problem}.", content_type="text/plain; charset=utf-8"
        )
