"""The time zone of each request: the signed-in user's centre's (``centres.time_zone``),
else the registry's (setting ``time_zone``).

Pages show dates and times in it and say which it is (the ``time_zone_name`` of every
template); "today" for the records entered (a date in the future is refused) and the
clock times the forms start with are the centre's. Administrators and analysts, who see
every centre, work in the registry's time zone.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from openect.data.models import Centre, centre_time_zone
from openect.registry.models import Membership
from openect.registry.records import registry_model


def zone_of_user(user: Any) -> str | None:
    """The time zone of the user's centre, or None (no centre, or none set)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    centre_id = Membership.objects.filter(user=user).values_list("centre_id", flat=True).first()
    if not centre_id:
        return None
    zone = (
        registry_model(Centre)
        .objects.filter(pk=centre_id)
        .values_list("time_zone", flat=True)
        .first()
    )
    return str(zone) if zone else None


class CentreTimeZoneMiddleware:
    """Activate the user's centre's time zone for the request (after authentication)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        zone = zone_of_user(getattr(request, "user", None))
        if zone is None:
            timezone.deactivate()
        else:
            timezone.activate(zoneinfo.ZoneInfo(zone))
        try:
            with centre_time_zone(zone):
                return self.get_response(request)
        finally:
            timezone.deactivate()


def time_zone(request: HttpRequest) -> dict[str, Any]:
    """``time_zone_name`` for every template: the zone its dates and times are shown in."""
    return {"time_zone_name": timezone.get_current_timezone_name()}
