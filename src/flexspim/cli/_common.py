"""What every subcommand shares: the same options under the same names, old spellings that still
work for one release, and checks of output paths made before any long work starts.

The vocabulary (docs/cli.md): ``--hw FILE`` (hardware description), ``--no-progress`` and
``--debug`` (on every command; ``--debug`` accepted anywhere on the command line), ``--overwrite``
(on every command that writes: an existing output is replaced only when asked), ``--out``
(results; by default under :data:`OUT_ROOT`), ``--plot FILE`` (a figure whose type, PNG, SVG or
PDF, the suffix chooses), and option names equal to the keys of the files (``--n-macros`` =
``n_macros``, ``--input-sparsity`` = ``input_sparsity``).

Every output option is checked before any work (:func:`check_output_file`): not a folder, its
folder writable, its name ending in the type it writes (:data:`OUTPUT_TYPES`), and not an
existing file unless ``--overwrite`` (:func:`refuse_existing`, the one message for files and for
the output folders of ``train`` and ``demo``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, NoReturn

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


def add_no_progress(parser: argparse.ArgumentParser, bars: bool = True) -> None:
    """``--no-progress`` into ``args.no_progress`` (``bars``: whether the command draws any)."""
    parser.add_argument("--no-progress", action="store_true",
                        help="no progress bars on stderr (for logs and scripts)" if bars else
                        "no progress bars (this command draws none; accepted like on every "
                        "command)")


def add_overwrite(parser: argparse.ArgumentParser, what: str = "an output file that exists"
                  ) -> None:
    """``--overwrite`` into ``args.overwrite``: replace ``what`` (without it, the command stops
    before any work)."""
    parser.add_argument("--overwrite", action="store_true",
                        help=f"replace {what} (without it the command keeps it and stops "
                             f"before any work)")


def add_shared(parser: argparse.ArgumentParser, *, bars: bool = True,
               replaces: str = "an output file that exists") -> None:
    """The options every command takes: ``--no-progress`` (``bars``: whether it draws any) and
    ``--overwrite`` (what it ``replaces``); ``--debug`` is added to every command by
    :func:`add_debug_everywhere`."""
    add_no_progress(parser, bars)
    add_overwrite(parser, replaces)


_REST = re.compile(r":(?:mod|func|class|data|meth|attr):`~?([^`]+)`")


def plain(doc: str | None) -> str | None:
    """A docstring paragraph as plain text for ``--help``: reST roles and double backticks
    dropped (``flexspim compile`` -> 'flexspim compile')."""
    if doc is None:
        return None
    text = _REST.sub(lambda m: m.group(1).rsplit(".", 1)[-1], doc)
    return re.sub(r"``([^`]+)``", r"'\1'", text)


def description(doc: str | None) -> str | None:
    """The first paragraph of a module docstring as a command's plain-text description."""
    return plain(doc.split("\n\n")[0]) if doc else None


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


#: The file type each output option writes: (suffixes accepted, the first one suggested).
OUTPUT_TYPES: dict[str, tuple[str, ...]] = {
    "--json": (".json",), "--csv": (".csv",), "--parquet": (".parquet",),
    "--nir": (".nir",), "--nir-float": (".nir",), "--record": (".json",),
}


def refuse_existing(what: str, path: str | os.PathLike[str], holds: str, *,
                    resume: bool = False) -> NoReturn:
    """The one message of an output that would replace earlier results: ``{what} {path}:
    {holds}; add --overwrite to replace it (or --resume to continue it), or choose another
    {what}``."""
    how = ("add --resume to continue it, --overwrite to replace it" if resume else
           "add --overwrite to replace it")
    raise ConfigError(f"{what} {path}: {holds}; {how}, or choose another {what}")


def check_suffix(path: str | os.PathLike[str], what: str,
                 suffixes: Sequence[str] | None = None) -> None:
    """Refuse a file name that does not end in the type option ``what`` writes (``suffixes``,
    by default :data:`OUTPUT_TYPES`)."""
    allowed = tuple(suffixes) if suffixes is not None else OUTPUT_TYPES.get(what, ())
    if allowed and Path(path).suffix.lower() not in allowed:
        raise ConfigError(f"{what} {path}: {what} writes a {allowed[0]} file; end the name in "
                          f"{' or '.join(allowed)}")


def check_output_file(path: str | os.PathLike[str], what: str,
                      example: str = "result.json", *, overwrite: bool,
                      suffixes: Sequence[str] | None = None) -> Path:
    """``path`` as an output file of option ``what``: not a folder, its folder writable, its
    name of the type ``what`` writes (:func:`check_suffix`), and not an existing file unless
    ``overwrite``."""
    p = Path(path)
    if p.is_dir():
        raise ConfigError(f"{what} {p}: is a folder; give a file name, for example "
                          f"{p / example}")
    check_suffix(p, what, suffixes)
    _check_parent(p, what)
    if p.exists() and not overwrite:
        refuse_existing(what, p, "already exists")
    if p.exists() and not os.access(p, os.W_OK):
        raise ConfigError(f"{what} {p}: the file is read-only; choose another path")
    return p


#: Output options that write a figure (PNG, SVG or PDF by the name).
FIGURE_OPTIONS = ("--plot", "--timeline")


def check_output_files(args: argparse.Namespace, *options: str) -> None:
    """Check every output option in ``options`` (``--json``, ``--csv``, ``--plot``...) that the
    command line gave, with ``args.overwrite``; the same file named twice is refused too."""
    seen: dict[Path, str] = {}
    for option in options:
        value = getattr(args, option.lstrip("-").replace("-", "_"), None)
        if value is None:
            continue
        if option in FIGURE_OPTIONS:
            figure_format(value, option)
        p = check_output_file(value, option, overwrite=args.overwrite,
                              example="figure.png" if option in FIGURE_OPTIONS else "result.json")
        if p.absolute() in seen:
            raise ConfigError(f"{option} {p}: {seen[p.absolute()]} names the same file; give "
                              f"each output its own name")
        seen[p.absolute()] = option


def check_output_dir(path: str | os.PathLike[str], what: str) -> Path:
    """``path`` as an output folder of option ``what``: not a file, writable or creatable."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise ConfigError(f"{what} {p}: is a file; give a folder (it is created if missing)")
    _check_parent(p / "x", what)
    return p


def check_figure_path(path: str | os.PathLike[str] | None, what: str = "--plot", *,
                      overwrite: bool) -> Path | None:
    """A figure path's type (PNG, SVG or PDF), folder and earlier file, checked before any work;
    None passes."""
    if path is None:
        return None
    figure_format(path, what)
    return check_output_file(path, what, example="figure.png", overwrite=overwrite)


# ----------------------------------------------------------------------------- training runs

#: The files ``flexspim train`` writes into its output folder.
TRAIN_FILES: tuple[str, ...] = ("checkpoint.pt", "summary.json", "network.npz", "metrics.csv",
                                "metrics.json")


def _accuracy_note(summary: Path) -> str:
    """`` (test accuracy 96.1%)`` from a training summary, or nothing if it cannot be read."""
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
        refuse_existing("--out", out, f"holds {kind}", resume=True)
    for name in TRAIN_FILES:
        (out / name).unlink(missing_ok=True)


def check_run_folder(out: str | os.PathLike[str], kind: str, files: Sequence[str], *,
                     overwrite: bool) -> Path:
    """``--out`` as the folder of a command's run (the demo's): refused when it holds any of
    ``files`` of an earlier run, unless ``overwrite`` (the files are then replaced as the new
    run writes them)."""
    p = check_output_dir(out, "--out")
    if not overwrite and any((p / name).exists() for name in files):
        refuse_existing("--out", p, f"holds {kind} ({', '.join(files)})")
    return p
