"""Reports assembled from results: self-contained HTML files with embedded figures."""

from openect.reports.outcomes import outcomes_report_html, write_outcomes_report

__all__ = ["outcomes_report_html", "write_outcomes_report"]
