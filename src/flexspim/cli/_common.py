"""What every subcommand shares: the same options under the same names, old spellings that still
work for one release, and checks of output paths made before any long work starts.

The vocabulary (docs/cli.md): ``--hw FILE`` (hardware description), ``--no-progress``, ``--debug``
(accepted anywhere on the command line), ``--out`` (results; by default under :data:`OUT_ROOT`),
``--plot FILE`` (a figure whose type, PNG, SVG or PDF, the suffix chooses), and option names
equal to the keys of the files (``--n-macros`` = ``n_macros``, ``--input-sparsity`` =
``input_sparsity``).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from flexspim._plot import figure_format
from flexspim.errors import ConfigError

#: The one default root of everything the commands write.
OUT_ROOT = Path("out")

#: What the command line says when Ctrl-C stops a command that cannot resume.
INTERRUPTED = "interrupted; files written so far are complete, nothing was left half-written"


# ----------------------------------------------------------------------------- shared options

class _DeprecatedAlias(argparse.Action):
    """An old option spelling: stores like the new one and says once, on stderr, what to use."""

    def __init__(self, option_strings: Sequence[str], dest: str, *, new: str,
                 store: Any = None, **kwargs: Any) -> None:
        self.new = new
        self.store = store
        super().__init__(option_strings, dest, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: str | None = None) -> None:
        print(f"flexspim: warning: {option_string} is deprecated and goes in the next release; "
              f"use {self.new}", file=sys.stderr)
        setattr(namespace, self.dest, self.store if self.nargs == 0 else values)


def deprecated_alias(parser: argparse.ArgumentParser, old: str, new: str, *, dest: str,
                     flag: bool = False, type: Any = None) -> None:
    """Accept ``old`` as a hidden synonym of ``new`` (``flag``: an option without a value)."""
    if flag:
        parser.add_argument(old, dest=dest, action=_DeprecatedAlias, new=new, store=True,
                            nargs=0, default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    else:
        parser.add_argument(old, dest=dest, action=_DeprecatedAlias, new=new, type=type,
                            default=argparse.SUPPRESS, help=argparse.SUPPRESS)


def add_hw(parser: argparse.ArgumentParser, help: str | None = None) -> None:
    """``--hw FILE|PRESET`` (old spelling ``--hardware``) into ``args.hw``: a hardware file or
    the name of a shipped preset (``flexspim``, ``spidr``)."""
    parser.add_argument("--hw", metavar="FILE|PRESET", dest="hw",
                        help=help or "hardware description (.yaml/.yml/.toml) or a preset: "
                        "flexspim (the default, the paper's system) or spidr "
                        "(docs/parameters.md)")
    deprecated_alias(parser, "--hardware", "--hw", dest="hw")


def add_no_progress(parser: argparse.ArgumentParser) -> None:
    """``--no-progress`` into ``args.no_progress``."""
    parser.add_argument("--no-progress", action="store_true",
                        help="no progress bars on stderr (for logs and scripts)")


def add_plot(parser: argparse.ArgumentParser, what: str) -> None:
    """``--plot FILE``: a figure of ``what``, its type chosen by the suffix."""
    parser.add_argument("--plot", metavar="FILE",
                        help=f"draw {what} (.png, .svg or .pdf, by the file name)")


def add_debug(parser: argparse.ArgumentParser) -> None:
    """``--debug``, so that it may stand after the subcommand as well as before it."""
    if "--debug" not in parser._option_string_actions:
        parser.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                            help="show the full traceback on errors")


def _subparsers(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in dict.fromkeys(action.choices.values()):
                yield sub
                yield from _subparsers(sub)


def add_debug_everywhere(parser: argparse.ArgumentParser) -> None:
    """Give every subcommand parser (nested ones too) the ``--debug`` option."""
    for sub in _subparsers(parser):
        add_debug(sub)


def progress_enabled(args: argparse.Namespace) -> bool:
    """False when the command line asked for ``--no-progress``."""
    return not getattr(args, "no_progress", False)


# ----------------------------------------------------------------------------- output paths

def _nearest_existing(path: Path) -> Path:
    p = path.absolute()
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


def _check_parent(path: Path, what: str) -> None:
    anc = _nearest_existing(path.parent)
    if not anc.is_dir():
        raise ConfigError(f"{what} {path}: {anc} is a file, so no folder can be made there; "
                          f"choose another path")
    if not os.access(anc, os.W_OK | os.X_OK):
        raise ConfigError(f"{what} {path}: no permission to write in {anc}; choose another path")


def check_output_file(path: str | os.PathLike[str], what: str,
                      example: str = "result.json") -> Path:
    """``path`` as an output file of option ``what``: not a folder, its folder writable."""
    p = Path(path)
    if p.is_dir():
        raise ConfigError(f"{what} {p}: is a folder; give a file name, for example "
                          f"{p / example}")
    _check_parent(p, what)
    if p.exists() and not os.access(p, os.W_OK):
        raise ConfigError(f"{what} {p}: the file is read-only; choose another path")
    return p


def check_output_dir(path: str | os.PathLike[str], what: str) -> Path:
    """``path`` as an output folder of option ``what``: not a file, writable or creatable."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise ConfigError(f"{what} {p}: is a file; give a folder (it is created if missing)")
    _check_parent(p / "x", what)
    return p


def check_figure_path(path: str | os.PathLike[str] | None, what: str = "--plot") -> Path | None:
    """A figure path's type (PNG, SVG or PDF) and folder, checked before any work; None passes."""
    if path is None:
        return None
    figure_format(path, what)
    return check_output_file(path, what, example="figure.png")


# ----------------------------------------------------------------------------- training runs

#: The files ``flexspim train`` writes into its output folder.
TRAIN_FILES: tuple[str, ...] = ("checkpoint.pt", "summary.json", "network.npz", "metrics.csv",
                                "metrics.json")


def _accuracy_note(summary: Path) -> str:
    """`` (test accuracy 96.1%)`` from a training summary, or nothing if it cannot be read."""
    import json

    try:
        acc = json.loads(summary.read_text(encoding="utf-8")).get("test_accuracy_fast_sim")
    except (OSError, ValueError, AttributeError):
        return ""
    return f" (test accuracy {100 * acc:.1f}%)" if isinstance(acc, (int, float)) else ""


def check_train_out(out: Path, *, resume: bool, overwrite: bool) -> None:
    """Refuse to start a new training run over an earlier one unless asked.

    A folder holding ``summary.json`` (a finished run) or ``checkpoint.pt`` (a run in progress)
    is kept unless ``--resume`` (continue it) or ``--overwrite`` (the earlier run's files are
    removed before training starts, so a stopped new run never sits beside the old summary).
    """
    check_output_dir(out, "--out")
    if resume and overwrite:
        raise ConfigError("--resume and --overwrite: choose one (continue the run in --out, or "
                          "replace it)")
    held = [name for name in ("summary.json", "checkpoint.pt") if (out / name).exists()]
    if not held or resume:
        return
    if not overwrite:
        kind = ("a finished training run" + _accuracy_note(out / "summary.json")
                if "summary.json" in held else "a training run in progress (checkpoint.pt)")
        raise ConfigError(f"--out {out}: holds {kind}; add --resume to continue it, "
                          f"--overwrite to replace it, or choose another --out")
    for name in TRAIN_FILES:
        (out / name).unlink(missing_ok=True)
