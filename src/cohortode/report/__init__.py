"""Self-contained HTML reports of a cohort's fitted structures (and an index page for a batch).

The renderer takes plain inputs (the data, the members as (name, fit, weight), the comparison and candidate tables, a
provenance dict), not a run directory, so it serves a single fit, a set of fitted models and a discovery run alike.
"""

from ._comparison import compare_fits as compare_fits
from ._members import Member as Member
from ._pdf import find_chromium as find_chromium
from ._pdf import print_pdf as print_pdf
from ._render import render_index as render_index
from ._render import render_report as render_report

__all__ = ["Member", "compare_fits", "render_report", "render_index", "print_pdf", "find_chromium"]
