"""Projections of the data model that need no database: FHIR R4 and CDISC ODM 1.3.2.

The CSV dataset format itself is :mod:`openect.data.csvio`; the registry's import and
export (:mod:`openect.registry.transfer`) and the command line call these modules.
"""
