"""Each centre's time zone (dataset schema 1.3): its users' pages show dates and times in
it and say so, and "today" for the records they enter is the centre's."""

from __future__ import annotations

import datetime as dt
import html
import zoneinfo

import pytest
from django.test import Client
from django.urls import reverse
from pydantic import ValidationError

from openect.data.dataset import Dataset
from openect.data.models import Assessment, Centre, centre_time_zone, registry_today
from openect.registry import services
from openect.registry.access import Actor
from openect.registry.models import Role
from openect.registry.transfer import import_dataset
from web_clients import signed_in

ADMIN = Actor("admin", Role.ADMIN)
#: UTC+14: its today is the first on earth, a day ahead of UTC for ten hours of the day.
EAST = "Pacific/Kiritimati"


def today_in(zone: str) -> dt.date:
    return dt.datetime.now(zoneinfo.ZoneInfo(zone)).date()


def test_a_centre_takes_an_iana_time_zone_only() -> None:
    assert Centre(centre_id="C9", name="x", time_zone="Europe/Ljubljana").time_zone
    for bad in ("Mars/Olympus", "UTC+2", "../etc/passwd", "x" * 65):
        with pytest.raises(ValidationError) as error:
            Centre(centre_id="C9", name="x", time_zone=bad)
        assert "time_zone" in str(error.value)


def test_today_is_the_centres_within_its_block() -> None:
    with centre_time_zone(EAST):
        inside = registry_today()
    assert inside.zone == EAST
    assert inside.date in (today_in(EAST), today_in(EAST) - dt.timedelta(days=1))
    assert registry_today().zone != EAST  # the registry's again after the block


@pytest.fixture
def clinician(dataset: Dataset) -> Client:
    """A clinician of C01, whose centre is in UTC+14."""
    import_dataset(ADMIN, dataset)
    services.update(ADMIN, Centre, "C01", {"time_zone": EAST}, reason="centre's zone")
    return signed_in("dr.east", "clinician", "C01")


@pytest.mark.django_db
def test_the_pages_of_a_centre_are_in_its_time_zone(clinician: Client) -> None:
    page = html.unescape(clinician.get("/patients/P1/").content.decode())
    assert f"dates and times in {EAST}" in page
    audit = html.unescape(clinician.get(reverse("audit")).content.decode())
    assert f"When ({EAST})" in audit
    assert "UTC" not in audit.replace(EAST, "")


@pytest.mark.django_db
def test_a_date_after_the_centres_today_is_refused(clinician: Client) -> None:
    url = reverse("assessment-new", args=["P1"])
    east_today = today_in(EAST)
    values = {
        "assessment_id": "P1-L1-V9",
        "patient_id": "P1",
        "lesion_id": "P1-L1",
        "longest_diameter_mm": "4",
        "method": "caliper",
    }
    refused = clinician.post(
        url, values | {"assessment_date": (east_today + dt.timedelta(days=1)).isoformat()}
    )
    assert refused.status_code == 422
    assert f"(today, {EAST})" in html.unescape(refused.content.decode())
    saved = clinician.post(url, values | {"assessment_date": east_today.isoformat()})
    assert saved.status_code == 302, html.unescape(saved.content.decode())[-3000:]
    assert services.get(ADMIN, Assessment, "P1-L1-V9").assessment_date == east_today


@pytest.mark.django_db
def test_an_administrator_sets_a_centres_time_zone(dataset: Dataset) -> None:
    import_dataset(ADMIN, dataset)
    from test_web_admin import _client

    admin = _client("boss", "admin")
    url = reverse("manage-centre", args=["C01"])
    bad = admin.post(url, {"name": "Test centre one", "country": "GB", "time_zone": "Mars/Olympus"})
    assert bad.status_code == 422
    assert "time_zone='Mars/Olympus': not an IANA time zone" in html.unescape(bad.content.decode())
    assert services.get(ADMIN, Centre, "C01").time_zone is None
    good = admin.post(url, {"name": "Test centre one", "country": "GB", "time_zone": EAST})
    assert good.status_code == 302
    assert services.get(ADMIN, Centre, "C01").time_zone == EAST
