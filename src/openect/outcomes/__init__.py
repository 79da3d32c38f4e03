"""Outcome analysis of an ECT dataset."""
