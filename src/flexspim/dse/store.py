"""The sweep result store: one SQLite file (stdlib ``sqlite3``, WAL journal), one row per point.

Format ``flexspim-sweep-store`` version 1 (docs/dse.md). Table ``meta`` holds ``format`` and
``version`` (and ``flexspim_version``, the release that created the store); table ``points``
holds, per point key, the point, its status (``ok`` or ``failed``), its metrics (JSON) or the
one-line error, and the order in which points completed. A row is committed as soon as its point
completes, and a key is written at most once (``INSERT OR IGNORE``), so a sweep killed at any
moment resumes with no point lost or computed twice.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flexspim import __version__
from flexspim._io import WRITER_KEY, check_versioned, dumps_json
from flexspim.dse.points import SweepPoint
from flexspim.errors import FormatError

STORE_FORMAT = "flexspim-sweep-store"
STORE_VERSION = 1

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS points (key TEXT PRIMARY KEY, seq INTEGER NOT NULL, "
    "sweep TEXT NOT NULL, point TEXT NOT NULL, status TEXT NOT NULL, metrics TEXT, "
    "error TEXT)",
)


@dataclass(frozen=True)
class PointResult:
    """One stored point. ``metrics`` (status ``ok``): energy_per_inference_uj, latency in us,
    accuracy (or None), ...; ``error`` (status ``failed``): the one-line reason."""

    key: str
    sweep: str
    point: SweepPoint
    status: str
    metrics: dict[str, Any]
    error: str | None = None
    seq: int = 0

    def row(self) -> dict[str, Any]:
        """A flat dict: key, status, the point's fields and the scalar metrics."""
        out: dict[str, Any] = {"key": self.key, "sweep": self.sweep, "status": self.status}
        out.update(self.point.to_dict())
        out.update({k: v for k, v in self.metrics.items()
                    if isinstance(v, (int, float, str, bool)) or v is None})
        if self.error:
            out["error"] = self.error
        return out


class ResultStore:
    """An open result store. Use :func:`open_store` (a context manager)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(str(self.path), timeout=30.0)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            for stmt in _SCHEMA:
                self._db.execute(stmt)
            self._check_meta()
            self._db.commit()
        except sqlite3.DatabaseError as exc:
            self.close()
            raise FormatError(f"{self.path}: not a flexspim sweep store ({exc}); give a new "
                              f"--out path or delete the file") from None

    def _check_meta(self) -> None:
        meta = dict(self._db.execute("SELECT key, value FROM meta").fetchall())
        if not meta:
            self._db.executemany("INSERT INTO meta (key, value) VALUES (?, ?)",
                                 [("format", STORE_FORMAT), ("version", str(STORE_VERSION)),
                                  (WRITER_KEY, __version__)])
            return
        version = meta.get("version")  # the meta table holds text
        stamp = {**meta, "version": int(version) if str(version).isdigit() else version}
        check_versioned(stamp, STORE_FORMAT, STORE_VERSION, self.path,
                        what="flexspim sweep store", fix_format="give another --out path",
                        fix="start a new store (another --out path)")

    def close(self) -> None:
        """Close the database (idempotent)."""
        db = getattr(self, "_db", None)
        if db is not None:
            db.close()
            self._db = None  # type: ignore[assignment]

    def _exec(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Run one statement and fetch its rows; a damaged file becomes a FormatError."""
        try:
            return self._db.execute(sql, args).fetchall()
        except sqlite3.DatabaseError as exc:
            raise FormatError(f"{self.path}: damaged sweep store ({exc}); give a new --out path "
                              f"or delete the file") from None

    def keys(self) -> set[str]:
        """Keys of every stored point."""
        return {k for (k,) in self._exec("SELECT key FROM points")}

    def __contains__(self, key: str) -> bool:
        return bool(self._exec("SELECT 1 FROM points WHERE key = ?", (key,)))

    def __len__(self) -> int:
        return int(self._exec("SELECT COUNT(*) FROM points")[0][0])

    def put(self, key: str, sweep: str, point: SweepPoint, status: str,
            metrics: dict[str, Any] | None = None, error: str | None = None) -> bool:
        """Store one point and commit; returns False (and changes nothing) if the key exists."""
        seq = int(self._exec("SELECT COALESCE(MAX(seq), 0) + 1 FROM points")[0][0])
        try:
            cur = self._db.execute(
                "INSERT OR IGNORE INTO points (key, seq, sweep, point, status, metrics, error) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (key, seq, sweep, json.dumps(point.to_dict(), sort_keys=True), status,
                 dumps_json(metrics or {}), error))
            self._db.commit()
        except sqlite3.DatabaseError as exc:
            raise FormatError(f"{self.path}: cannot store point {key} ({exc}); give a new "
                              f"--out path or delete the file") from None
        return cur.rowcount == 1

    def get(self, key: str) -> PointResult | None:
        """The stored point with ``key``, or None."""
        rows = self._select("WHERE key = ?", (key,))
        return rows[0] if rows else None

    def results(self, sweep: str | None = None) -> list[PointResult]:
        """Every stored point (of one sweep, if given) in completion order."""
        if sweep is None:
            return self._select("", ())
        return self._select("WHERE sweep = ?", (sweep,))

    def _select(self, where: str, args: tuple[Any, ...]) -> list[PointResult]:
        sql = f"SELECT key, seq, sweep, point, status, metrics, error FROM points {where} " \
              f"ORDER BY seq"
        out = []
        for key, seq, sweep, point, status, metrics, error in self._exec(sql, args):
            try:
                out.append(PointResult(key=key, sweep=sweep,
                                       point=SweepPoint.from_dict(json.loads(point)),
                                       status=status, metrics=json.loads(metrics or "{}"),
                                       error=error, seq=int(seq)))
            except (ValueError, TypeError) as exc:
                raise FormatError(f"{self.path}: point {key} is corrupt ({exc}); delete the "
                                  f"store or that row") from None
        return out


@contextmanager
def open_store(path: str | os.PathLike[str]) -> Iterator[ResultStore]:
    """Open (or create) the store at ``path``; closed when the block ends."""
    store = ResultStore(path)
    try:
        yield store
    finally:
        store.close()
