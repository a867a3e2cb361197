"""Results as tables (docs/results.md): every run, mapping and sweep as rows for pandas.

One file (CSV or Parquet) holds several tables in long-wide form: every row has a ``table``
column (``run``, ``sample``, ``layer``, ``component``, ``macro``, ``point``), its own columns, and
every parameter of the run (swept or fixed) repeated in every row, so that any row can be
filtered, grouped or plotted on its own. :func:`load` splits a file back into one pandas
DataFrame per table.

- :func:`run_rows`: a run document (``flexspim simulate --json``);
- :func:`mapping_rows`: a mapping with its estimated cost and counts (``flexspim compile``);
- :func:`sweep_rows`: a sweep's stored points (``flexspim sweep``).

Per-macro rows are taken from the run document generically: the first list of objects under a
key ``per_macro`` or ``macros`` (the cost's ``per_macro`` of a system-engine run), one row per
entry.
"""

from flexspim.results.io import load, write_table
from flexspim.results.tables import mapping_rows, run_rows, sweep_rows

__all__ = ["load", "mapping_rows", "run_rows", "sweep_rows", "write_table"]
