"""Session pages: plan an ECT session for a patient, record it, record its applications.

* ``plan`` - ``/patients/<patient_id>/plan/`` (``session-plan``; GET shows the form, and
  the plan when the registry's defaults are complete; POST plans) and
  ``/patients/<patient_id>/sessions/new/`` (``session-new``; POST records the session).
* ``record`` - ``/sessions/<session_id>/record/`` (``session-record``; GET: the
  pulse-window countdown, the applications), ``/sessions/<session_id>/bolus/``
  (``session-bolus``; POST: the bolus end time) and
  ``/sessions/<session_id>/applications/new/`` (``application-new``; POST: one
  application, saved with a warning when outside the window).
* ``forms`` - the Django forms: the planning form built from the planner's own models
  (:mod:`openect.protocol.inputs`), the recording forms with the rule set's pulse train.
* ``plan_view`` - what the plan page shows of a plan (no request, no formatting: the
  templates format with :mod:`openect.web.templatetags.openect_format`).
* ``rule_sets`` - the rule sets the pages offer.

The clinical derivations (pulse window of a session, window checks, pulse train, ids of
new records, lifetime bleomycin) are in :mod:`openect.protocol.recording`. Every write
goes through :mod:`openect.registry.services` (scope, validation, audit).
"""
