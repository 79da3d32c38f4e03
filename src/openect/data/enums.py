"""Controlled vocabularies of the canonical data model (``docs/dataset.md``).

Every enum value is the exact string used in the CSV dataset, the registry and the API.
"""

from __future__ import annotations

from enum import StrEnum


class Sex(StrEnum):
    """Administrative sex: female, male, other/unspecified."""

    F = "F"
    M = "M"
    X = "X"


class PrimaryTumour(StrEnum):
    """Histology of the primary tumour whose cutaneous metastases are treated."""

    MELANOMA = "melanoma"
    BREAST = "breast"
    SCC_SKIN = "scc_skin"
    BCC = "bcc"
    KAPOSI = "kaposi"
    SARCOMA = "sarcoma"
    OTHER = "other"


class BrafStatus(StrEnum):
    """BRAF V600 mutation status of the melanoma."""

    MUTANT = "mutant"
    WILDTYPE = "wildtype"
    UNKNOWN = "unknown"


class DeathCause(StrEnum):
    """Cause of death, when the patient has died."""

    MELANOMA = "melanoma"
    OTHER = "other"
    UNKNOWN = "unknown"


class BodySite(StrEnum):
    """Anatomical region of a treated lesion.

    Since dataset schema 1.3 the head and the neck, and each side of the trunk, are
    regions of their own; ``head_neck``, ``trunk_anterior`` and ``trunk_posterior`` stay
    for a lesion whose finer region or side was not recorded. The side is the patient's.
    """

    HEAD_NECK = "head_neck"
    TRUNK_ANTERIOR = "trunk_anterior"
    TRUNK_POSTERIOR = "trunk_posterior"
    HEAD = "head"
    NECK = "neck"
    TRUNK_ANTERIOR_LEFT = "trunk_anterior_left"
    TRUNK_ANTERIOR_RIGHT = "trunk_anterior_right"
    TRUNK_POSTERIOR_LEFT = "trunk_posterior_left"
    TRUNK_POSTERIOR_RIGHT = "trunk_posterior_right"
    UPPER_LIMB_LEFT = "upper_limb_left"
    UPPER_LIMB_RIGHT = "upper_limb_right"
    LOWER_LIMB_LEFT = "lower_limb_left"
    LOWER_LIMB_RIGHT = "lower_limb_right"
    GENITAL_PERINEAL = "genital_perineal"


class Layer(StrEnum):
    """Tissue layer in which the metastasis lies."""

    CUTANEOUS = "cutaneous"
    SUBCUTANEOUS = "subcutaneous"


class Symptom(StrEnum):
    """Symptom attributed to a lesion at baseline."""

    PAIN = "pain"
    BLEEDING = "bleeding"
    ODOUR = "odour"
    INFECTION = "infection"
    EXUDATE = "exudate"


class Anaesthesia(StrEnum):
    """Anaesthesia used for an ECT session."""

    LOCAL = "local"
    LOCAL_SEDATION = "local_sedation"
    GENERAL = "general"


class Drug(StrEnum):
    """Drug of an ECT session: a cytotoxic drug, or calcium chloride (calcium
    electroporation, given intratumourally only)."""

    BLEOMYCIN = "bleomycin"
    CISPLATIN = "cisplatin"
    CALCIUM_CHLORIDE = "calcium_chloride"


class Analgesia(StrEnum):
    """Analgesia given for the pain of an ECT session (during and after the procedure).

    ``none`` is recorded alone; the anaesthesia itself is the session's ``anaesthesia``.
    """

    NONE = "none"
    LOCAL_ANAESTHETIC = "local_anaesthetic"
    PARACETAMOL_NSAID = "paracetamol_nsaid"
    OPIOID = "opioid"
    OTHER = "other"


class Route(StrEnum):
    """Route of drug administration."""

    INTRAVENOUS = "intravenous"
    INTRATUMOURAL = "intratumoural"


class AssessmentMethod(StrEnum):
    """How a lesion was measured at a follow-up visit."""

    CALIPER = "caliper"
    PHOTO = "photo"
    ULTRASOUND = "ultrasound"
    HISTOLOGY = "histology"


class ResponseCategory(StrEnum):
    """Tumour response category (RECIST 1.1 adapted to skin, or WHO)."""

    CR = "CR"
    PR = "PR"
    SD = "SD"
    PD = "PD"


class AgentClass(StrEnum):
    """Class of a systemic anticancer therapy."""

    ANTI_PD1 = "anti_pd1"
    ANTI_CTLA4 = "anti_ctla4"
    ANTI_PD1_CTLA4 = "anti_pd1_ctla4"
    BRAF_MEK = "braf_mek"
    CHEMOTHERAPY = "chemotherapy"
    #: Electrochemotherapy given at another centre (its bleomycin counts towards the
    #: lifetime dose; sessions of this registry are in ``sessions.csv``).
    ECT_ELSEWHERE = "ect_elsewhere"
    OTHER = "other"


#: Agent classes that count as immunotherapy (immune checkpoint inhibitors).
IMMUNOTHERAPY_CLASSES: frozenset[AgentClass] = frozenset(
    {AgentClass.ANTI_PD1, AgentClass.ANTI_CTLA4, AgentClass.ANTI_PD1_CTLA4}
)

#: Stage groups accepted in ``patients.stage`` (AJCC 8th edition groups, with the
#: melanoma M1 categories written ``IV-M1a`` ... ``IV-M1d``).
AJCC_STAGES: tuple[str, ...] = (
    "0",
    "I", "IA", "IB",
    "II", "IIA", "IIB", "IIC",
    "III", "IIIA", "IIIB", "IIIC", "IIID",
    "IV", "IV-M1a", "IV-M1b", "IV-M1c", "IV-M1d",
)  # fmt: skip
