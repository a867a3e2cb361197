"""The ``flexspim`` command: a thin layer over the Python API.

Each subcommand lives in its own module of this package and defines ``register(subparsers)``,
which adds its parser and sets ``func`` to a function ``run(args) -> int`` (and optionally
``interrupted``: what Ctrl-C keeps, a line or a function of the arguments that writes it from
what is on disk). Errors a user can cause
(:class:`~flexspim.errors.FlexspimError`, a missing file, an optional library not installed) are
printed as one line with exit code 2; ``--debug`` (anywhere on the command line) shows the
traceback instead. Shared options and output checks live in :mod:`flexspim.cli._common`.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import traceback
from collections.abc import Sequence

from flexspim import __version__
from flexspim.cli._common import INTERRUPTED, add_debug_everywhere
from flexspim.cli.extras import missing_extra_message
from flexspim.errors import FlexspimError

#: Subcommand modules, in the order they appear in ``flexspim --help``.
SUBCOMMAND_MODULES: tuple[str, ...] = (
    "flexspim.cli.macro_sweep",
    "flexspim.cli.simulate",
    "flexspim.cli.data",
    "flexspim.cli.train",
    "flexspim.cli.export",
    "flexspim.cli.import_nir",
    "flexspim.cli.demo",
    "flexspim.cli.report",
    "flexspim.cli.sweep",
    "flexspim.cli.compile",
    "flexspim.cli.reproduce",
)


class _Parser(argparse.ArgumentParser):
    """ArgumentParser whose usage errors are one line and exit with code 2, naming the help of
    the (sub)command the error belongs to."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"flexspim: error: {message} (see '{self.prog} --help')\n")

    def parse_args(self, args: Sequence[str] | None = None,  # type: ignore[override]
                   namespace: argparse.Namespace | None = None) -> argparse.Namespace:
        ns, extras = self.parse_known_args(args, namespace)
        if extras:
            command_parser(self, ns).error(f"unrecognized arguments: {' '.join(extras)}")
        return ns


def command_parser(parser: argparse.ArgumentParser,
                   ns: argparse.Namespace) -> argparse.ArgumentParser:
    """The parser of the innermost subcommand that ``ns`` chose (``flexspim data info``)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            chosen = action.choices.get(getattr(ns, action.dest, None) or "")
            if chosen is not None:
                return command_parser(chosen, ns)
    return parser


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser with every subcommand registered."""
    parser = _Parser(
        prog="flexspim",
        description="Design and evaluate event-based SNN accelerators built from FlexSpIM "
        "compute-in-memory macros.",
    )
    parser.add_argument("--version", action="version", version=f"flexspim {__version__}")
    parser.add_argument(
        "--debug", action="store_true", help="show the full traceback on errors"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in SUBCOMMAND_MODULES:
        importlib.import_module(name).register(sub)
    add_debug_everywhere(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``flexspim`` command; returns the exit code."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args_list
    args: argparse.Namespace | None = None
    try:
        parser = build_parser()
        args = parser.parse_args(args_list)
        if getattr(args, "func", None) is None:
            parser.print_help()
            return 2
        return int(args.func(args) or 0)
    except FlexspimError as exc:
        if debug:
            traceback.print_exc()
        print(f"flexspim: error: {exc}", file=sys.stderr)
        return 2
    except (FileNotFoundError, IsADirectoryError, PermissionError) as exc:
        if debug:
            traceback.print_exc()
        where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
        print(f"flexspim: error: {where}{exc.strerror or exc}; check the path", file=sys.stderr)
        return 2
    except ModuleNotFoundError as exc:  # an optional library the command needs (cli/extras.py)

        message = missing_extra_message(exc)
        if message is None:
            raise
        if debug:
            traceback.print_exc()
        print(f"flexspim: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        said = getattr(args, "interrupted", INTERRUPTED)
        print(f"flexspim: {said(args) if callable(said) else said}", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
