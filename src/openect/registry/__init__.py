"""Registry: multi-centre database of ECT patients (Django app), import and export."""
