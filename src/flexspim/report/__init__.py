"""HTML reports and figures (docs/design.md §4 ``report``; docs/report.md).

:func:`make_run_document` bundles a simulation result with its mapping, cost and hardware into a
``flexspim-run`` v1 document; :func:`write_report` turns such a document (or a bare simulation
result) into one self-contained HTML page, figures embedded as base64 PNG. matplotlib is imported
only when a figure is drawn.
"""

from flexspim.report.document import (
    RUN_FORMAT,
    RUN_VERSION,
    RunData,
    load_run,
    make_run_document,
    run_data,
    save_run_document,
)
from flexspim.report.html import (
    SECTIONS,
    confusion_matrix,
    plot_energy_breakdown,
    render_report,
    write_report,
)
from flexspim.report.macros import plot_timeline

__all__ = [
    "RUN_FORMAT",
    "RUN_VERSION",
    "SECTIONS",
    "RunData",
    "confusion_matrix",
    "load_run",
    "make_run_document",
    "plot_energy_breakdown",
    "plot_timeline",
    "render_report",
    "run_data",
    "save_run_document",
    "write_report",
]
