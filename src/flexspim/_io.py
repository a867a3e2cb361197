"""Small file helpers shared by every part: atomic writes and versioned JSON documents.

Every file flexspim writes carries a ``format`` name and a ``version``; every reader checks them
through :func:`check_versioned`, the one place that does, and a file of another format or version
raises a one-line :class:`~flexspim.errors.FormatError` that says so. Every versioned
document also carries ``flexspim_version``, the release that wrote it (:func:`stamped`): readers
ignore it, since the format's own ``version`` alone decides whether a file can be read.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from flexspim import __version__
from flexspim.errors import ConfigError, FlexspimError, FormatError

#: The key that names the flexspim release which wrote a versioned document.
WRITER_KEY = "flexspim_version"


def _umask() -> int:
    """The process umask (read without changing it for longer than one call)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` only if the block succeeds.

    A failed write leaves any earlier file at ``path`` intact. Errors of the file system name
    ``path``, never the temporary file.
    """
    final = Path(path)
    if final.is_dir():
        raise ConfigError(f"{final}: is a folder; give a file name")
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
    except OSError as exc:
        raise ConfigError(f"{final}: cannot write there ({exc.strerror or exc}); choose another "
                          f"path") from None
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        if tmp_path.exists():
            os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual mode
        try:
            os.replace(tmp_path, final)
        except OSError as exc:
            raise ConfigError(f"{final}: cannot write there ({exc.strerror or exc}); choose "
                              f"another path") from None
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temporary file, then rename)."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text_atomic(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    write_bytes_atomic(path, text.encode("utf-8"))


def write_with(path: str | os.PathLike[str], writer: Callable[[Path], Any]) -> None:
    """Call ``writer(tmp_path)`` and rename the result onto ``path`` if it succeeds."""
    with atomic_path(path) as tmp:
        writer(tmp)


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"cannot write {type(obj).__name__} to JSON")


def dumps_json(doc: Any) -> str:
    """JSON text with NumPy scalars and arrays converted, indented, ending in a newline."""
    return json.dumps(doc, indent=2, default=_json_default) + "\n"


def write_json(path: str | os.PathLike[str], doc: Any) -> None:
    """Write ``doc`` as JSON to ``path`` atomically; a versioned document is :func:`stamped`."""
    write_text_atomic(path, dumps_json(stamped(doc)))


def versioned(format_name: str, version: int, body: dict[str, Any]) -> dict[str, Any]:
    """Wrap ``body`` with its format name and version (the keys ``format`` and ``version``)."""
    return {"format": format_name, "version": version, **body}


def stamped(doc: Any) -> Any:
    """``doc`` with ``flexspim_version`` (this release) placed right after ``version``, when
    ``doc`` is a versioned document (a dict with ``format`` and ``version``); else ``doc`` as is.

    Writers call this on the way to the file, so the stamp names the release that wrote the file
    (a document read from an older file and written again gets this release) and stays out of
    the in-memory documents that are hashed or compared.
    """
    if not (isinstance(doc, dict) and "format" in doc and "version" in doc):
        return doc
    out: dict[str, Any] = {}
    for key, value in doc.items():
        if key == WRITER_KEY:
            continue
        out[key] = value
        if key == "version":
            out[WRITER_KEY] = __version__
    return out


def _kind(format_name: str) -> str:
    """``flexspim-sim-result`` -> ``flexspim sim result file``: what a format's files hold."""
    return f"flexspim {format_name.removeprefix('flexspim-').replace('-', ' ')} file"


def check_versioned(
    doc: Any, format_name: str, version: int | tuple[int, ...], where: str | os.PathLike[str],
    *, fix: str = "re-create the file with this version of flexspim",
    what: str | None = None, fix_format: str = "check the path",
    error: type[FlexspimError] = FormatError,
) -> dict[str, Any]:
    """Check that ``doc`` is a ``format_name`` document of ``version`` (or of one of the
    versions of a tuple: a format whose older versions still load); return it.

    The one place every versioned format (JSON, the header of an ``.npz``, a checkpoint, a
    sweep file, a store's meta table, a table's columns) checks its ``format`` and ``version``.
    Raises ``error`` (FormatError unless a format's reader says otherwise) with one line naming
    the file ``where``, what it holds (``what``: the kind of file in words, by default from the
    format's name), what was expected, and how to fix it: ``fix_format`` for a missing or other
    format, ``fix`` for another version.
    """
    kind = what or _kind(format_name)
    if not isinstance(doc, dict) or "format" not in doc:
        raise error(f"{where}: not a {kind} (no 'format' field, expected '{format_name}'); "
                    f"{fix_format}")
    if doc["format"] != format_name:
        raise error(f"{where}: not a {kind}: holds a {doc['format']!r} document, expected "
                    f"'{format_name}'; {fix_format}")
    versions = version if isinstance(version, tuple) else (version,)
    found = doc.get("version")
    if isinstance(found, bool) or found not in versions:
        which = (f"version {versions[0]}" if len(versions) == 1 else
                 f"versions {', '.join(map(str, versions[:-1]))} and {versions[-1]}")
        raise error(f"{where}: {format_name} format version {found!r}, this flexspim reads "
                    f"{which}; {fix}")
    return doc


def read_json(path: str | os.PathLike[str]) -> Any:
    """Read a JSON file; a missing or malformed file raises FormatError naming the line."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FormatError(f"{p}: no such file; check the path") from None
    except IsADirectoryError:
        raise FormatError(f"{p}: is a folder, expected a JSON file") from None
    except UnicodeDecodeError as exc:
        raise FormatError(f"{p}: not a text file (byte {exc.start} is not UTF-8)") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise FormatError(
            f"{p}: not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from None


def read_versioned_json(
    path: str | os.PathLike[str], format_name: str, version: int | tuple[int, ...],
    **how: Any,
) -> dict[str, Any]:
    """Read a versioned JSON document and check its format and version (``how``: the keyword
    arguments of :func:`check_versioned`)."""
    return check_versioned(read_json(path), format_name, version, path, **how)
