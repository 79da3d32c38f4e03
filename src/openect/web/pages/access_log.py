"""The access log page: who read which patient's data, when and from where.

For administrators (every entry) and data managers (the entries about their centre's
data and those of their centre's users); clinicians and analysts get 403
(:func:`openect.registry.access_log.visible_entries`). Filters: user, action, first and
last day (UTC); a bad filter is answered 400 with the field, the value and what is
allowed. ``?format=csv`` downloads the filtered entries as CSV for spreadsheets (cells
that would run as a formula start with ``'``).
"""

from __future__ import annotations

import io
from urllib.parse import urlencode

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from openect.errors import InputError
from openect.registry import access_log
from openect.registry.access import Actor
from openect.registry.models import Role
from openect.web.pages.common import allow, with_actor

#: Entries per page.
PAGE_SIZE = 50
#: Filters read from the query string (their names are the fields of the messages).
FILTERS = ("user", "action", "since", "until")
#: Values of ``format`` (the page, or the CSV download).
FORMATS = ("html", "csv")


def _scope(actor: Actor) -> str:
    if actor.role is Role.ADMIN:
        return "every entry (administrator)"
    return f"entries about centre {actor.centre_id}'s data and by its users"


@allow("GET")
@with_actor
def access_log_page(request: HttpRequest, *, actor: Actor) -> HttpResponse:
    """The entries the actor may see, newest first, filtered; or their CSV."""
    rows = access_log.visible_entries(actor)  # 403 for clinicians and analysts
    given = {name: request.GET.get(name, "") for name in FILTERS}
    filters = access_log.Filters.parse(given, {name: name for name in FILTERS})
    shown_format = request.GET.get("format", "html").strip() or "html"
    if shown_format not in FORMATS:
        raise InputError(f"format={shown_format[:64]!r}: unknown; allowed {', '.join(FORMATS)}")
    rows = access_log.filter_entries(rows, filters)
    if shown_format == "csv":
        buffer = io.StringIO()
        access_log.write_csv(rows.iterator(), buffer)
        response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
        name = f"openect-access-log-{timezone.localdate().isoformat()}.csv"
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    query = urlencode({k: v.strip() for k, v in given.items() if v.strip()})
    return render(
        request,
        "web/access_log.html",
        {
            "page": page,
            "entries": list(page.object_list),
            "actions": [a.value for a in access_log.AccessAction],
            "filters": {k: v.strip() for k, v in given.items()},
            "query": query,
            "scope": _scope(actor),
        },
    )
