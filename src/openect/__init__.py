"""OpenECT: electrochemotherapy (ECT) of cutaneous metastases.

Plan a session, simulate the electric field, record what was delivered, assess each
lesion at follow-up and analyse outcomes across centres. See ``docs/architecture.md``.
"""

__version__ = "0.1.0"
