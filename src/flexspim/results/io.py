"""Writing and reading result tables: CSV (stdlib) or Parquet (pandas + pyarrow).

Format ``flexspim-table`` version 1: the columns ``table_format`` and ``table_version`` in every
row name it; :func:`load` refuses other formats and versions.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path
from typing import Any

from flexspim._io import check_versioned, write_bytes_atomic, write_text_atomic
from flexspim.errors import ConfigError, FormatError

TABLE_FORMAT = "flexspim-table"
TABLE_VERSION = 1
_LEAD = ("table_format", "table_version", "table")


def _pandas() -> Any:
    try:
        import pandas  # the tables extra: only --csv/--parquet and load() need it
    except ImportError:
        raise ConfigError("tables need pandas (and pyarrow for Parquet); install "
                          "flexspim[tables]") from None
    return pandas


def _columns(rows: list[dict[str, Any]]) -> list[str]:
    cols = list(dict.fromkeys(k for r in rows for k in r))
    return [*_LEAD, *(c for c in cols if c not in _LEAD)]


def _stamped(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"table_format": TABLE_FORMAT, "table_version": TABLE_VERSION, **r} for r in rows]


def write_table(rows: list[dict[str, Any]], *, csv_path: str | os.PathLike[str] | None = None,
                parquet_path: str | os.PathLike[str] | None = None) -> list[str]:
    """Write ``rows`` (dicts of scalars) as CSV and/or Parquet, atomically; returns the paths."""
    rows = _stamped(rows)
    cols = _columns(rows)
    done: list[str] = []
    if csv_path is not None:
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=cols, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
        write_text_atomic(csv_path, buf.getvalue())
        done.append(str(csv_path))
    if parquet_path is not None:
        pd = _pandas()
        frame = pd.DataFrame(rows, columns=cols)
        for c in frame.columns:  # mixed columns (numbers and text) as text, which Arrow needs
            if frame[c].dtype == object:
                kinds = {type(v) for v in frame[c].dropna()}
                if len(kinds) > 1:
                    frame[c] = frame[c].map(lambda v: None if v is None else str(v))
        out = io.BytesIO()
        try:
            frame.to_parquet(out, index=False)
        except ImportError:
            raise ConfigError("Parquet needs pyarrow; install flexspim[tables]") from None
        write_bytes_atomic(parquet_path, out.getvalue())
        done.append(str(parquet_path))
    return done


def load(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A table file (CSV or Parquet, by its first bytes) as ``{table: pandas.DataFrame}``; each
    frame keeps only its own non-empty columns."""
    pd = _pandas()
    p = Path(path)
    if not p.is_file():
        raise FormatError(f"{p}: no such table file; write one with --csv or --parquet")
    with open(p, "rb") as fh:
        magic = fh.read(4)
    try:
        frame = pd.read_parquet(p) if magic == b"PAR1" else pd.read_csv(p, low_memory=False)
    except Exception as exc:  # pandas/pyarrow raise many types for a bad file
        raise FormatError(f"{p}: not a readable table ({type(exc).__name__}: "
                          f"{str(exc)[:100]})") from None
    if "table_format" not in frame.columns or "table" not in frame.columns:
        raise FormatError(f"{p}: not a flexspim table (no 'table_format' and 'table' columns)")
    stamps = set(zip(frame["table_format"].astype(str), frame["table_version"].astype(int),
                     strict=True))
    for fmt, version in sorted(stamps):  # every row carries its table's format and version
        check_versioned({"format": fmt, "version": version}, TABLE_FORMAT, TABLE_VERSION, p,
                        what="flexspim table", fix="write the table again with --csv or --parquet")
    out: dict[str, Any] = {}
    for name, part in frame.groupby("table", sort=False):
        part = part.drop(columns=list(_LEAD)).dropna(axis=1, how="all")
        out[str(name)] = part.reset_index(drop=True)
    return out
