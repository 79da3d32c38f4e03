"""The rule sets the session pages offer: the one place the pages get them from.

Today: those shipped with OpenECT (:func:`openect.protocol.recording.shipped`). A
centre's own rule-set files would be added here (tests put one in by replacing
:func:`offered`).
"""

from __future__ import annotations

from openect.protocol.recording import shipped
from openect.protocol.rules import RuleSet


def offered() -> dict[str, RuleSet]:
    """The rule sets a user may plan with, by id (resolved; loading is cached)."""
    return shipped()
