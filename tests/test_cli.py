"""The command-line entry point: --version, --help, usage errors, one-line errors with exit 2."""

from __future__ import annotations

import subprocess
import sys

import pytest

from flexspim import __version__
from flexspim.cli import SUBCOMMAND_MODULES, build_parser, main


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"flexspim {__version__}"


def test_every_subcommand_registers() -> None:
    parser = build_parser()
    text = parser.format_help()
    for module in SUBCOMMAND_MODULES:
        name = module.rsplit(".", 1)[1].replace("_", "-")
        assert name.split("-")[0] in text


def test_no_command_prints_help_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "usage" in capsys.readouterr().out


def test_unknown_option_is_one_line_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--no-such-option"])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("flexspim: error:")


def test_module_entry_point_runs() -> None:
    out = subprocess.run([sys.executable, "-m", "flexspim", "--version"], capture_output=True,
                         text=True)
    assert out.returncode == 0 and __version__ in out.stdout
