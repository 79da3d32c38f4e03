"""Signed-in test clients and the second session of P1 that the recording tests share."""

from __future__ import annotations

import datetime as dt

from django.test import Client

from openect.data.models import Session
from openect.registry import accounts, services
from openect.registry.access import Actor
from openect.registry.models import Role

ADMIN = Actor("admin", Role.ADMIN)
PASSWORD = "correct-horse-battery"


def signed_in(username: str, role: str, centre: str | None = None) -> Client:
    """A client signed in (with a password) as a new user of ``role`` at ``centre``."""
    accounts.set_user(ADMIN, username, role, centre, PASSWORD)
    client = Client()
    assert client.login(username=username, password=PASSWORD)
    return client


def add_session_p1_s2() -> Session:
    """P1's session P1-S2 (bleomycin IV, bolus ended at 10:00) in the registry."""
    return services.create(
        ADMIN,
        Session(
            session_id="P1-S2",
            patient_id="P1",
            session_date=dt.date(2021, 5, 1),
            session_number=2,
            drug="bleomycin",
            route="intravenous",
            dose=25_500,
            dose_per_m2=15_000,
            bsa_m2=1.7,
            bolus_end_time=dt.time(10, 0),
            rule_set="esope-2006",
        ),
    )
