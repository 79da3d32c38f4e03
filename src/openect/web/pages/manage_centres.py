"""Administration of centres: the list, a new centre, a centre's name and country.

Written through the registry's services (:func:`openect.registry.services.create` and
:func:`~openect.registry.services.update`, as an import does): the data model's rules
apply (identifier pattern, name of 1 to 200 characters, country of two capital
letters) and every change is audited with the administrator as actor (entity
``centres``). The pages also refuse a country code that ISO 3166-1 does not assign
(:func:`country_names`). A centre's identifier never changes (its patients carry it).

| URL | methods | name |
|---|---|---|
| ``/manage/centres/`` | GET, POST (create) | ``manage-centres`` |
| ``/manage/centres/<centre_id>/`` | GET, POST (change) | ``manage-centre`` |
"""

from __future__ import annotations

import logging
import zoneinfo
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from django.contrib import messages
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from openect.data.models import Centre, Patient
from openect.errors import InputError, NotFoundError
from openect.registry import services
from openect.registry.access import Actor, readable
from openect.registry.accounts import shown
from openect.registry.models import Membership
from openect.registry.records import registry_model
from openect.settings import get_settings
from openect.web.pages.manage_common import Submitted, admin_page, form_page

log = logging.getLogger(__name__)

#: Longest centre identifier and name (the data model's).
ID_LENGTH = 64
NAME_LENGTH = 200
#: Longest country text read (longer is refused as too long, shorter as not a code).
COUNTRY_LENGTH = 16
#: The services' column names on the form.
FIELDS = {
    "centre_id": "centre_id",
    "name": "name",
    "country": "country",
    "time_zone": "time_zone",
}
#: The list of ISO 3166-1 alpha-2 codes and country names kept with the time zone
#: database (IANA ``iso3166.tab``): in the ``tzdata`` package (a dependency of pandas),
#: else the system's copy.
SYSTEM_ISO3166 = Path("/usr/share/zoneinfo/iso3166.tab")


@cache
def country_names() -> dict[str, str]:
    """ISO 3166-1 alpha-2 code -> country name (IANA ``iso3166.tab``; empty when the
    file is nowhere, and then only the data model's pattern applies)."""
    try:
        text = (resources.files("tzdata.zoneinfo") / "iso3166.tab").read_text("utf-8")
    except (ModuleNotFoundError, FileNotFoundError):
        text = SYSTEM_ISO3166.read_text("utf-8") if SYSTEM_ISO3166.is_file() else ""
    names = {}
    for line in text.splitlines():
        if line and not line.startswith("#") and "\t" in line:
            code, name = line.split("\t", 1)
            names[code.strip()] = name.strip()
    return names


def _country(form: Submitted) -> str | None:
    """The form's country code, upper case (None when left empty); refused when ISO
    3166-1 assigns no such code."""
    code = form.text("country", COUNTRY_LENGTH, required=False).upper()
    form.values["country"] = code
    if not code or "country" in form.errors:
        return None
    known = country_names()
    if len(code) != 2 or not code.isalpha() or (known and code not in known):
        form.refuse(
            "country",
            f"country={shown(code)}: not an ISO 3166-1 alpha-2 code; allowed two letters "
            "such as GB, IT, SI (leave empty when unknown)",
        )
        return None
    return code


def _zones() -> dict[str, Any]:
    """The IANA time zones offered, and the registry's (the default of a centre)."""
    return {
        "time_zones": sorted(zoneinfo.available_timezones()),
        "registry_zone": get_settings().time_zone,
    }


def _time_zone(form: Submitted) -> str | None:
    """The form's time zone (None when left empty); an unknown name is refused."""
    zone = form.text("time_zone", 64, required=False)
    form.values["time_zone"] = zone
    if not zone or "time_zone" in form.errors:
        return None
    try:
        zoneinfo.ZoneInfo(zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        form.refuse(
            "time_zone",
            f"time_zone={shown(zone)}: not an IANA time zone; allowed e.g. Europe/Ljubljana, "
            "America/New_York or UTC",
        )
        return None
    return zone


def _page(request: HttpRequest, actor: Actor, form: Submitted | None = None) -> HttpResponse:
    centres = list(readable(actor, Centre).order_by("centre_id"))
    patients = dict(
        registry_model(Patient)
        .objects.order_by()
        .values("centre")
        .annotate(n=Count("pk"))
        .values_list("centre", "n")
    )
    users = dict(
        Membership.objects.order_by()
        .values("centre_id")
        .annotate(n=Count("pk"))
        .values_list("centre_id", "n")
    )
    rows = [
        {
            "centre": c,
            "country_name": country_names().get(c.country or "", ""),
            "patients": patients.get(c.centre_id, 0),
            "users": users.get(c.centre_id, 0),
        }
        for c in centres
    ]
    context = {
        "rows": rows,
        "countries": sorted(country_names().items()),
        "section": "centres",
        **_zones(),
    }
    return form_page(request, "web/manage/centres.html", context, form)


@admin_page("GET", "POST")
def centres(request: HttpRequest, actor: Actor) -> HttpResponse:
    """Every centre (patients and users of each); POST creates one; audited."""
    if request.method != "POST":
        return _page(request, actor)
    form = Submitted(request.POST)
    centre_id = form.text("centre_id", ID_LENGTH)
    name = form.text("name", NAME_LENGTH)
    country = _country(form)
    zone = _time_zone(form)
    if centre_id and readable(actor, Centre).filter(pk=centre_id).exists():
        form.refuse("centre_id", f"centre_id={shown(centre_id)}: already in use; choose another")
    if form.ok:
        try:
            item = services.validated(
                Centre,
                {"centre_id": centre_id, "name": name, "country": country, "time_zone": zone},
            )
            services.create(actor, item, "centre created (administration page)")
        except InputError as error:
            form.refuse_error(error, FIELDS, "centre_id")
    if not form.ok:
        return _page(request, actor, form)
    log.info("centres: %s created centre %r", actor.username, centre_id)
    messages.success(request, f"Centre {centre_id} created.")
    return redirect("manage-centres")


@admin_page("GET", "POST")
def centre(request: HttpRequest, actor: Actor, centre_id: str) -> HttpResponse:
    """One centre's name and country; POST changes them; audited."""
    found = readable(actor, Centre).filter(pk=centre_id).first()
    if found is None:
        raise NotFoundError(f"centre_id={shown(centre_id)}: no such centre")
    context = {
        "centre": found,
        "countries": sorted(country_names().items()),
        "section": "centres",
        **_zones(),
    }
    if request.method != "POST":
        values = {
            "name": found.name,
            "country": found.country or "",
            "time_zone": found.time_zone or "",
        }
        return form_page(request, "web/manage/centre.html", context, Submitted({}, values=values))
    form = Submitted(request.POST)
    name = form.text("name", NAME_LENGTH)
    country = _country(form)
    zone = _time_zone(form)
    if form.ok:
        try:
            services.update(
                actor,
                Centre,
                centre_id,
                {"name": name, "country": country, "time_zone": zone},
                "centre changed (administration page)",
            )
        except InputError as error:
            form.refuse_error(error, FIELDS, "name")
    if not form.ok:
        return form_page(request, "web/manage/centre.html", context, form)
    log.info("centres: %s changed centre %r", actor.username, centre_id)
    messages.success(request, f"Centre {centre_id} saved.")
    return redirect("manage-centres")
