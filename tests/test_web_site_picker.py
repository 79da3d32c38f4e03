"""The lesion form's body site picker: a tap on the body map chooses the finer body site
(head, neck, each side of the trunk, limbs) in the form's list, on a phone too."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

from openect.data.dataset import Dataset
from openect.data.enums import BodySite
from openect.registry import accounts
from openect.registry.access import Actor
from openect.registry.models import Role
from openect.registry.transfer import import_dataset
from openect.web.pages import bodymap
from rendered_pages import CHROMIUM, rendered

ADMIN = Actor("admin", Role.ADMIN)
PASSWORD = "correct-horse-battery"
SCREENSHOTS = Path(__file__).resolve().parents[1] / "docs" / "screenshots"


def test_the_picker_offers_every_finer_site_on_its_view() -> None:
    areas = {a.site: a for a in bodymap.pick_areas()}
    assert set(areas) == {s.value for s in bodymap.PICKABLE}
    assert "head_neck" not in areas
    assert "trunk_anterior" not in areas
    assert areas["trunk_posterior_left"].view == "back"
    assert areas["neck"].view == "front"
    assert all(a.rx >= 7 and a.ry >= 7 for a in areas.values())  # big enough for a finger


@pytest.mark.django_db
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium not installed")
def test_a_tap_on_the_body_map_chooses_the_site(dataset: Dataset) -> None:
    import_dataset(ADMIN, dataset)
    accounts.set_user(ADMIN, "dr.one", "clinician", "C01", PASSWORD)
    client = Client()
    assert client.login(username="dr.one", password=PASSWORD)
    path = reverse("lesion-new", args=["P1"])
    html = client.get(path).content
    with rendered(html, path, 390, 844) as page:
        select = page.locator("#id_body_site")
        page.locator(".bm-pick[data-site='neck']").click()
        assert select.input_value() == BodySite.NECK.value
        assert "Body site: neck." in page.locator("[data-site-picked]").inner_text()
        page.locator(".bm-pick[data-site='trunk_posterior_right']").click()
        assert select.input_value() == "trunk_posterior_right"
        page.locator(".bm-pick[data-site='lower_limb_left']").focus()
        page.keyboard.press("Enter")
        assert select.input_value() == "lower_limb_left"
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.locator(".site-picker").screenshot(path=str(SCREENSHOTS / "lesion-site-picker.png"))
