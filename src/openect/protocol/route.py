"""Route of the drug and anaesthesia, suggested from the number and size of lesions."""

from __future__ import annotations

from collections.abc import Sequence

from openect.data.enums import Anaesthesia, BodySite, Drug, Route
from openect.errors import RuleError
from openect.protocol.inputs import LesionToTreat
from openect.protocol.rules import RuleSet


def suggest_route(rules: RuleSet, lesions: Sequence[LesionToTreat]) -> tuple[Route, str]:
    """Intratumoural for few and small lesions, else intravenous (rule ``route.choice``)."""
    count = len(lesions)
    largest = max(lesion.longest_diameter_mm for lesion in lesions)
    max_count = rules.number("route.choice", "it_max_lesions")
    max_size = rules.number("route.choice", "it_max_diameter_mm")
    if count <= max_count and largest <= max_size:
        return Route.INTRATUMOURAL, (
            f"{count} lesion(s), largest {largest:g} mm: <= {max_count:g} lesions "
            f"of <= {max_size:g} mm"
        )
    return Route.INTRAVENOUS, (
        f"{count} lesion(s), largest {largest:g} mm: more than {max_count:g} lesions "
        f"or larger than {max_size:g} mm"
    )


#: The rule naming the body sites whose lesions call for at least sedation.
SITES_RULE = "anaesthesia.sites"


def suggest_anaesthesia(
    rules: RuleSet, lesions: Sequence[LesionToTreat]
) -> tuple[Anaesthesia, str]:
    """Local for few and small lesions, sedation for more, general for many or large
    (rule ``anaesthesia.choice``); at least sedation when a lesion lies at a site of
    ``anaesthesia.sites`` (e.g. head and neck, genital and perineal)."""
    rule = "anaesthesia.choice"
    count = len(lesions)
    largest = max(lesion.longest_diameter_mm for lesion in lesions)
    if count <= rules.number(rule, "local_max_lesions") and largest <= rules.number(
        rule, "local_max_diameter_mm"
    ):
        choice = Anaesthesia.LOCAL
    elif count <= rules.number(rule, "sedation_max_lesions") and largest <= rules.number(
        rule, "sedation_max_diameter_mm"
    ):
        choice = Anaesthesia.LOCAL_SEDATION
    else:
        choice = Anaesthesia.GENERAL
    reason = f"{count} lesion(s), largest {largest:g} mm"
    sensitive = set(rules.words(SITES_RULE))
    unknown = sensitive - {site.value for site in BodySite}
    if unknown:
        raise RuleError(
            f"rule {SITES_RULE}: unknown body site(s) {', '.join(sorted(unknown))}; "
            f"known: {', '.join(site.value for site in BodySite)}"
        )
    sites = sorted({lesion.body_site.value for lesion in lesions} & sensitive)
    if choice is Anaesthesia.LOCAL and sites:
        choice = Anaesthesia.LOCAL_SEDATION
        reason += f"; lesion(s) at {', '.join(sites)}: at least sedation ({SITES_RULE})"
    return choice, reason


#: The rule on inspired oxygen under general anaesthesia after bleomycin.
OXYGEN_RULE = "anaesthesia.oxygen_after_bleomycin"


def oxygen_advice(rules: RuleSet, anaesthesia: Anaesthesia | None, drug: Drug) -> str | None:
    """Under general anaesthesia with bleomycin: keep the inspired oxygen fraction low
    (rule ``anaesthesia.oxygen_after_bleomycin``); None otherwise."""
    if anaesthesia is not Anaesthesia.GENERAL or drug is not Drug.BLEOMYCIN:
        return None
    limit = rules.number(OXYGEN_RULE, "fio2_below_percent")
    return (
        f"general anaesthesia with bleomycin: keep the inspired oxygen fraction below "
        f"{limit:g} % (the lowest that keeps the saturation) during and after the session; "
        f"high inspired oxygen after bleomycin can cause respiratory failure ({OXYGEN_RULE})"
    )
