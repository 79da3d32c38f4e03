"""Published ECT evidence: curated results with sources, meta-analysis, forest/funnel plots.

* :mod:`openect.evidence.studies` - the bundled tables (Spratt 2014 ECT studies, melanoma
  cohorts, published pooled estimates, survival landmarks), each with its sources;
* :mod:`openect.evidence.meta` - :class:`MetaAnalysis`, fixed/random-effects pooling of
  proportions (logit, Freeman-Tukey, raw) and generic effects, checked against R metafor;
* :mod:`openect.evidence.plots` - forest plot, funnel plot and the institutional funnel
  that places a centre's own response rate against the pooled literature.
"""

from openect.evidence.meta import ConvergenceError, MetaAnalysis
from openect.evidence.studies import (
    EvidenceTable,
    list_tables,
    load_table,
    melanoma_response_studies,
    spratt2014,
)

__all__ = [
    "ConvergenceError",
    "EvidenceTable",
    "MetaAnalysis",
    "list_tables",
    "load_table",
    "melanoma_response_studies",
    "spratt2014",
]
