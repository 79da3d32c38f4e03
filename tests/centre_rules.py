"""A centre's own rule set, as a centre would write it: on esope-2006, with its own
pulse train and IV window (the values differ from both shipped rule sets)."""

from __future__ import annotations

CENTRE = """
[rule_set]
id = "centre-x"
base = "esope-2006"
title = "Centre X protocol"

[rules."pulses.train"]
value = { pulses = 6, pulse_duration_us = 120, frequency_hz = 1 }
status = "verified"
source = "Centre X ECT protocol v1, 2025"

[rules."window.iv"]
value = { start_min = 5, end_min = 20 }
unit = "min"
status = "verified"
source = "Centre X ECT protocol v1, 2025"
"""
