"""A test client's session verified with a second factor, as after the code step (for
administrators, who reach no page without one)."""

from __future__ import annotations

from typing import Any

from django.test import Client


def verify_session(client: Client, user: Any) -> Client:
    """Give ``user`` a confirmed TOTP device and mark the client's signed-in session as
    verified with it (what ``/login/code/`` does after a right code)."""
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.create(user=user, name="test", confirmed=True)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client
