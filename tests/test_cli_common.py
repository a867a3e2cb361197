"""The command line as one vocabulary: shared options, old spellings, default outputs, figure
types by file name, outputs and inputs checked before work, errors that name the user's path and
suggestions that lead to a command that works, and what Ctrl-C says."""

from __future__ import annotations

import argparse
import json
import re
import shlex
from pathlib import Path

import numpy as np
import pytest

from flexspim.cli import build_parser, main
from flexspim.cli._common import check_train_out
from flexspim.data.events import make_events
from flexspim.errors import ConfigError
from flexspim.net import Conv2d, Flatten, IntNetwork, Linear, save_network

MAGIC = {"png": b"\x89PNG\r\n\x1a\n", "pdf": b"%PDF", "svg": b"<?xml"}


def _net(n_classes: int = 3, name: str = "tiny") -> IntNetwork:
    rng = np.random.default_rng(0)
    return IntNetwork(input_shape=(2, 8, 8), layers=(
        Conv2d(name="conv1", weight=rng.integers(-3, 8, (4, 2, 3, 3)), w_bits=4, v_bits=8,
               threshold=6, padding=(1, 1)),
        Flatten(name="flatten"),
        Linear(name="fc", weight=rng.integers(-4, 8, (n_classes, 256)), w_bits=4, v_bits=10,
               threshold=8),
    ), name=name)


@pytest.fixture()
def files(tmp_path: Path) -> dict[str, Path]:
    """A tiny network, binned spikes for it, and its mapping (from the CLI)."""
    save_network(_net(), tmp_path / "net.npz")
    save_network(_net(n_classes=5, name="other"), tmp_path / "other.npz")
    rng = np.random.default_rng(1)
    np.save(tmp_path / "spikes.npy", (rng.random((4, 3, 2, 8, 8)) < 0.3).astype(np.int64))
    assert main(["compile", str(tmp_path / "net.npz"), "--out", str(tmp_path / "map.json"),
                 "--time-bins", "4"]) == 0
    return {"net": tmp_path / "net.npz", "other": tmp_path / "other.npz",
            "spikes": tmp_path / "spikes.npy", "map": tmp_path / "map.json", "dir": tmp_path}


def _err(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return capsys.readouterr().err.strip().splitlines()


def _subparsers(parser: argparse.ArgumentParser):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield name, sub
                for inner, deeper in _subparsers(sub):
                    yield f"{name} {inner}", deeper


# ----------------------------------------------------------------------------- 1. vocabulary

def test_every_option_of_every_command_has_help() -> None:
    missing = [f"{name} {'/'.join(a.option_strings) or a.dest}"
               for name, sub in _subparsers(build_parser()) for a in sub._actions
               if not a.help and not isinstance(a, argparse._SubParsersAction)]
    assert missing == []


@pytest.mark.parametrize("option, commands", [
    ("--hw", ("compile", "simulate", "macro-sweep", "demo")),
    ("--no-progress", ("simulate", "train", "macro-sweep", "sweep", "reproduce", "demo")),
    ("--plot", ("compile", "simulate", "macro-sweep", "sweep")),
    ("--debug", ("compile", "simulate", "macro-sweep", "sweep", "reproduce", "demo", "train",
                 "export", "import", "report", "data info", "data frames")),
])
def test_the_same_option_on_every_command(option: str, commands: tuple[str, ...]) -> None:
    subs = dict(_subparsers(build_parser()))
    for cmd in commands:
        assert option in subs[cmd]._option_string_actions, (cmd, option)
    assert "--hardware" not in subs["compile"].format_help()  # old spellings stay hidden


def test_debug_after_the_subcommand_shows_the_traceback(tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]
                                                        ) -> None:
    assert main(["compile", str(tmp_path / "missing.npz"), "--debug"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" in err and err.strip().splitlines()[-1].startswith("flexspim: error:")
    assert main(["compile", str(tmp_path / "missing.npz")]) == 2
    assert "Traceback" not in capsys.readouterr().err


def test_old_spellings_work_with_one_deprecation_line(files: dict[str, Path],
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    d = files["dir"]
    assert main(["compile", str(files["net"]), "--n-macros", "3", "--input-sparsity", "0.9",
                 "--out", str(d / "new.json")]) == 0
    assert _err(capsys) == []
    assert main(["compile", str(files["net"]), "--macros", "3", "--sparsity", "0.9",
                 "--out", str(d / "old.json")]) == 0
    err = _err(capsys)
    assert err == ["flexspim: warning: --macros is deprecated and goes in the next release; "
                   "use --n-macros",
                   "flexspim: warning: --sparsity is deprecated and goes in the next release; "
                   "use --input-sparsity"]
    assert (d / "new.json").read_text() == (d / "old.json").read_text()
    hw = d / "hw.yaml"
    hw.write_text("system:\n  n_macros: 3\n")
    assert main(["macro-sweep", "--hardware", str(hw), "--no-progress"]) == 0
    assert [e for e in _err(capsys) if "deprecated" in e] == [
        "flexspim: warning: --hardware is deprecated and goes in the next release; use --hw"]


def test_one_default_output_root(files: dict[str, Path], monkeypatch: pytest.MonkeyPatch
                                 ) -> None:
    subs = dict(_subparsers(build_parser()))
    for cmd, expected in (("demo", "out/demo"), ("train", "out/train"),
                          ("reproduce", "out/reproduce")):
        assert str(subs[cmd].get_default("out")) == expected
    monkeypatch.chdir(files["dir"])
    assert main(["compile", "net.npz"]) == 0
    assert json.loads((files["dir"] / "out" / "net.mapping.json").read_text())["format"] == \
        "flexspim-mapping"


# ----------------------------------------------------------------------------- 2. outputs

@pytest.mark.parametrize("suffix", ["png", "svg", "pdf"])
def test_plot_type_follows_the_file_name(files: dict[str, Path], suffix: str) -> None:
    d = files["dir"]
    runs = {
        "compile": ["compile", str(files["net"]), "--out", str(d / "m.json"),
                    "--plot", str(d / f"compile.{suffix}")],
        "simulate": ["simulate", str(files["net"]), str(files["spikes"]), "--mapping",
                     str(files["map"]), "--plot", str(d / f"simulate.{suffix}"),
                     "--no-progress"],
        "macro-sweep": ["macro-sweep", "--no-progress", "--plot", str(d / f"macro-sweep.{suffix}")],
    }
    for name, argv in runs.items():
        assert main(argv) == 0, name
        data = (d / f"{name}.{suffix}").read_bytes()
        assert data.startswith(MAGIC[suffix]), (name, data[:16])
        if suffix == "svg":
            assert b"<svg" in data[:1000]


@pytest.mark.parametrize("argv", [
    ["compile", "{net}", "--out", "{dir}/m.json", "--plot", "{dir}/x.jpg"],
    ["simulate", "{net}", "{spikes}", "--mapping", "{map}", "--plot", "{dir}/x.jpg"],
    ["macro-sweep", "--plot", "{dir}/x.jpg"],
    ["sweep", "{dir}/s.yaml", "--out", "{dir}/s.sqlite", "--plot", "{dir}/x.jpg"],
])
def test_other_figure_types_are_refused_before_any_work(files: dict[str, Path], argv: list[str],
                                                        capsys: pytest.CaptureFixture[str]
                                                        ) -> None:
    d = files["dir"]
    (d / "s.yaml").write_text("format: flexspim-sweep\nversion: 1\nspace:\n  n_macros: [2]\n")
    before = set(d.iterdir())
    args = [a.format(net=files["net"], spikes=files["spikes"], map=files["map"], dir=d)
            for a in argv]
    assert main(args) == 2
    err = _err(capsys)
    assert err == [f"flexspim: error: --plot {d}/x.jpg: '.jpg' is not a figure type flexspim "
                   f"writes; end the name in .png, .svg, .pdf"]
    assert set(d.iterdir()) == before  # nothing written: no mapping, no store, no figure


def test_an_empty_hardware_file_is_an_error(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    hw = tmp_path / "hw.yaml"
    hw.write_text("# nothing here\n")
    assert main(["macro-sweep", "--hw", str(hw)]) == 2
    assert f"{hw}: the hardware file is empty" in _err(capsys)[0]


def test_a_sweep_with_an_impossible_voltage_is_refused_before_it_runs(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sweep = tmp_path / "bad.yaml"
    sweep.write_text("format: flexspim-sweep\nversion: 1\nspace:\n  voltage: [0.9, 5]\n")
    store = tmp_path / "bad.sqlite"
    assert main(["sweep", str(sweep), "--out", str(store), "--no-progress"]) == 2
    err = _err(capsys)
    assert len(err) == 1 and "space.voltage[1] = 5.0" in err[0] and "[0.9, 1.1]" in err[0]
    assert not store.exists()


def _fake_run(out: Path, accuracy: float) -> None:
    out.mkdir(parents=True)
    (out / "checkpoint.pt").write_bytes(b"weights")
    (out / "network.npz").write_bytes(b"net")
    (out / "summary.json").write_text(json.dumps({"test_accuracy_fast_sim": accuracy}))


def test_train_refuses_a_folder_holding_a_finished_run(tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]
                                                       ) -> None:
    out = tmp_path / "run"
    _fake_run(out, 0.96)
    assert main(["train", "--out", str(out), "--epochs", "1", "--no-progress"]) == 2
    err = _err(capsys)
    assert err == [f"flexspim: error: --out {out}: holds a finished training run (test accuracy "
                   f"96.0%); add --resume to continue it, --overwrite to replace it, or choose "
                   f"another --out"]
    assert (out / "checkpoint.pt").read_bytes() == b"weights"  # untouched
    assert main(["train", "--out", str(out), "--resume", "--overwrite"]) == 2
    assert "choose one" in _err(capsys)[0]


def test_overwrite_clears_the_earlier_run_and_resume_keeps_it(tmp_path: Path) -> None:
    out = tmp_path / "run"
    _fake_run(out, 0.96)
    (out / "notes.txt").write_text("mine")
    check_train_out(out, resume=True, overwrite=False)
    assert (out / "summary.json").exists()
    check_train_out(out, resume=False, overwrite=True)
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]  # only the run's own files go
    check_train_out(out, resume=False, overwrite=False)  # nothing left to protect
    with pytest.raises(ConfigError, match="is a file"):
        check_train_out(out / "notes.txt", resume=False, overwrite=False)


def test_a_mapping_for_another_network_is_refused_before_simulating(
        files: dict[str, Path], monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    import flexspim.cli.simulate as cli_simulate

    def never(*args, **kwargs):
        raise AssertionError("the simulation ran before the mapping was checked")

    monkeypatch.setattr(cli_simulate, "simulate", never)
    d = files["dir"]
    spikes5 = d / "spikes5.npy"
    np.save(spikes5, np.load(files["spikes"]))
    assert main(["simulate", str(files["other"]), str(spikes5), "--mapping",
                 str(files["map"]), "--no-progress"]) == 2
    err = _err(capsys)
    assert len(err) == 1 and err[0].startswith(f"flexspim: error: --mapping {files['map']}: ")
    assert "[network-match]" in err[0]
    # the suggested command makes a matching mapping, and then the simulation runs
    suggested = re.search(r"'(flexspim compile [^']+)'", err[0]).group(1)
    monkeypatch.undo()
    assert main(shlex.split(suggested)[1:]) == 0
    assert main(["simulate", str(files["other"]), str(spikes5), "--mapping",
                 str(files["map"]), "--no-progress"]) == 0


# ----------------------------------------------------------------------------- 3. errors

def test_output_errors_name_the_users_path(files: dict[str, Path],
                                           capsys: pytest.CaptureFixture[str]) -> None:
    d = files["dir"]
    (d / "afile").write_text("x")
    cases = [
        (["simulate", str(files["net"]), str(files["spikes"]), "--json", str(d)], str(d)),
        (["report", str(d / "r.json"), "--out", str(d / "afile" / "r.html")],
         str(d / "afile" / "r.html")),
        (["compile", str(files["net"]), "--out", str(d / "afile" / "m.json")],
         str(d / "afile" / "m.json")),
        (["reproduce", "--quick", "--out", str(d / "afile")], str(d / "afile")),
    ]
    assert main(["simulate", str(files["net"]), str(files["spikes"]), "--json",
                 str(d / "r.json"), "--no-progress"]) == 0
    capsys.readouterr()
    for argv, path in cases:
        assert main(argv) == 2, argv
        err = _err(capsys)
        assert len(err) == 1 and path in err[0], (argv, err)
        assert ".tmp" not in err[0] and "/." not in err[0].replace(str(d), ""), err


def test_event_sensor_advice_leads_to_a_command_that_works(tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]
                                                           ) -> None:
    """32 x 32 events into an 8 x 8 network: each message's advice, followed, gets further."""
    save_network(_net(), tmp_path / "net.npz")
    rng = np.random.default_rng(0)
    n = 500
    np.save(tmp_path / "ev.npy", make_events(rng.integers(0, 32, n), rng.integers(0, 32, n),
                                             rng.integers(0, 2, n).astype(bool),
                                             np.sort(rng.integers(0, 10_000, n))))
    base = ["simulate", str(tmp_path / "net.npz"), str(tmp_path / "ev.npy"), "--time-bins",
            "4", "--no-progress"]
    assert main(base) == 2
    err = _err(capsys)[-1]
    assert "add --downsample 8,8" in err and "--sensor-size 8,8" not in err  # no loop back
    assert main([*base, "--downsample", "8,8"]) == 0
    capsys.readouterr()
    assert main([*base, "--sensor-size", "33,33"]) == 2  # any size maps onto the input
    assert "add --downsample 8,8" in _err(capsys)[-1]
    assert main([*base, "--sensor-size", "33,33", "--downsample", "8,8"]) == 0


@pytest.mark.parametrize("command, resumes", [("simulate", False), ("sweep", True)])
def test_ctrl_c_says_what_is_kept(files: dict[str, Path], monkeypatch: pytest.MonkeyPatch,
                                  capsys: pytest.CaptureFixture[str], command: str,
                                  resumes: bool) -> None:
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    d = files["dir"]
    if command == "simulate":
        import flexspim.cli.simulate as mod

        monkeypatch.setattr(mod, "simulate", interrupted)
        monkeypatch.setattr(mod, "record", interrupted)  # the fast engine on the CPU records
        argv = ["simulate", str(files["net"]), str(files["spikes"]), "--no-progress"]
    else:
        import flexspim.cli.sweep as mod

        monkeypatch.setattr(mod, "run_sweep", interrupted)
        (d / "s.yaml").write_text("format: flexspim-sweep\nversion: 1\n")
        argv = ["sweep", str(d / "s.yaml"), "--out", str(d / "s.sqlite"), "--no-progress"]
    assert main(argv) == 130
    err = _err(capsys)
    assert len(err) == 1 and err[0].startswith("flexspim: interrupted")
    assert ("resume" in err[0]) == resumes


# ----------------------------------------------------------------------------- 4. nothing lost

#: Every subcommand that writes files (``data`` is a group, not a command).
WRITERS = ("compile", "simulate", "macro-sweep", "sweep", "reproduce", "demo", "train",
           "export", "import", "report", "data info", "data frames")


def _leaf_commands() -> dict[str, argparse.ArgumentParser]:
    return {name: sub for name, sub in _subparsers(build_parser()) if name != "data"}


def test_every_command_takes_no_progress_debug_and_overwrite() -> None:
    """One vocabulary: every command takes --no-progress and --debug, and every command that
    writes takes --overwrite."""
    leaves = _leaf_commands()
    assert sorted(leaves) == sorted(WRITERS)
    for name, sub in leaves.items():
        for option in ("--no-progress", "--debug", "--overwrite"):
            assert option in sub._option_string_actions, (name, option)


def _existing_output_cases(files: dict[str, Path]) -> list[tuple[list[str], str, Path]]:
    """(command line, option, the file it names) for the options that write a file."""
    d, net, spikes, mapping = files["dir"], str(files["net"]), str(files["spikes"]), \
        str(files["map"])
    assert main(["simulate", net, spikes, "--json", str(d / "run.json"), "--no-progress"]) == 0
    rng = np.random.default_rng(0)
    np.save(d / "ev.npy", make_events(rng.integers(0, 8, 50), rng.integers(0, 8, 50),
                                      rng.integers(0, 2, 50), np.arange(50)))
    sim = ["simulate", net, spikes, "--mapping", mapping, "--no-progress"]
    new = ["--out", str(d / "new.json")]
    return [
        (["compile", net, "--out", str(d / "o.json")], "--out", d / "o.json"),
        (["compile", net, *new, "--plot", str(d / "o.png")], "--plot", d / "o.png"),
        (["compile", net, *new, "--csv", str(d / "o.csv")], "--csv", d / "o.csv"),
        (["report", str(d / "run.json")], "--out", d / "run.html"),
        (["report", str(d / "run.json"), "--out", str(d / "o.html")], "--out", d / "o.html"),
        ([*sim, "--json", str(d / "o.json")], "--json", d / "o.json"),
        ([*sim, "--csv", str(d / "o.csv")], "--csv", d / "o.csv"),
        ([*sim, "--plot", str(d / "o.png")], "--plot", d / "o.png"),
        ([*sim, "--timeline", str(d / "o.png")], "--timeline", d / "o.png"),
        (["macro-sweep", "--no-progress", "--json", str(d / "o.json")], "--json", d / "o.json"),
        (["data", "info", str(d / "ev.npy"), "--json", str(d / "o.json")], "--json",
         d / "o.json"),
    ]


def test_outputs_are_never_overwritten_silently(files: dict[str, Path],
                                                capsys: pytest.CaptureFixture[str]) -> None:
    """An existing output is kept, with one line naming it and the option that replaces it;
    with --overwrite the command replaces it."""
    for argv, option, target in _existing_output_cases(files):
        target.write_bytes(b"mine")
        if (files["dir"] / "new.json").exists():
            (files["dir"] / "new.json").unlink()
        capsys.readouterr()
        assert main(argv) == 2, argv
        assert _err(capsys) == [f"flexspim: error: {option} {target}: already exists; add "
                                f"--overwrite to replace it, or choose another {option}"], argv
        assert target.read_bytes() == b"mine", argv  # untouched
        assert main([*argv, "--overwrite"]) == 0, argv
        assert target.read_bytes() != b"mine", argv
        target.unlink()


def test_an_existing_output_stops_the_command_before_any_work(
        files: dict[str, Path], monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    import flexspim.cli.compile as cli_compile

    def never(*args, **kwargs):
        raise AssertionError("compiled before the outputs were checked")

    monkeypatch.setattr(cli_compile, "compile_network", never)
    d = files["dir"]
    (d / "late.csv").write_text("mine")
    assert main(["compile", str(files["net"]), "--out", str(d / "m2.json"), "--csv",
                 str(d / "late.csv")]) == 2
    assert not (d / "m2.json").exists()


def test_demo_keeps_an_earlier_demo_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    import flexspim.demo

    def never(*args, **kwargs):
        raise AssertionError("the demo ran over an earlier one")

    monkeypatch.setattr(flexspim.demo, "run_demo", never)
    (tmp_path / "results.json").write_text("{}")
    assert main(["demo", "--out", str(tmp_path), "--no-progress"]) == 2
    assert _err(capsys) == [f"flexspim: error: --out {tmp_path}: holds a demo run (results.json, "
                            f"report.html); add --overwrite to replace it, or choose another "
                            f"--out"]


@pytest.mark.parametrize("option, name, kind", [
    ("--csv", "out.xlsx", ".csv"), ("--parquet", "out.csv", ".parquet"),
    ("--json", "run.txt", ".json")])
def test_a_table_is_written_under_its_own_type_only(files: dict[str, Path], option: str,
                                                    name: str, kind: str,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    d = files["dir"]
    before = set(d.iterdir())
    assert main(["simulate", str(files["net"]), str(files["spikes"]), option, str(d / name),
                 "--no-progress"]) == 2
    assert _err(capsys) == [f"flexspim: error: {option} {d / name}: {option} writes a "
                            f"{kind} file; end the name in {kind}"]
    assert set(d.iterdir()) == before


def test_help_texts_are_plain_text() -> None:
    """No reST markup (double backticks, :mod: roles) in any --help."""
    for name, sub in _leaf_commands().items():
        text = sub.format_help()
        assert "``" not in text and not re.search(r":(mod|func|class|data|meth):", text), name


def test_data_info_help_names_every_format() -> None:
    text = " ".join(_leaf_commands()["data info"].format_help().split())
    for fmt in ("AEDAT 4.0", "AEDAT 3.1", "EVT 2.0", "EVT 3.0", "DAT", ".npy"):
        assert fmt in text, fmt


@pytest.mark.parametrize("argv, prog", [
    (["compile", "net.npz", "--no-such-option"], "flexspim compile"),
    (["data", "info", "x", "--no-such-option"], "flexspim data info"),
    (["--no-such-option"], "flexspim"),
])
def test_an_unknown_option_points_to_the_commands_own_help(
        argv: list[str], prog: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = _err(capsys)
    assert len(err) == 1 and err[0].endswith(f"(see '{prog} --help')"), err


def test_ctrl_c_in_trains_first_epoch_says_there_is_nothing_to_resume(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Before the first epoch ends there is no checkpoint: the message says so (and names the
    real folder); after one, it names the checkpoint, and --resume continues from it."""
    import flexspim.train
    from flexspim.train.frames import frames_from_arrays, save_frames

    rng = np.random.default_rng(0)
    x, y = rng.poisson(0.3, (6, 4, 2, 20, 20)), np.arange(6) % 3
    save_frames(tmp_path / "f.npz", frames_from_arrays(x, y, x, y))
    seen: list[bool] = []

    def stopped(config, train, test, *, out, resume, **kwargs):
        seen.append(resume)
        if len(seen) == 2:  # the second run finished an epoch before Ctrl-C
            out.mkdir(parents=True, exist_ok=True)
            (out / "checkpoint.pt").write_bytes(b"epoch 1")
        raise KeyboardInterrupt

    monkeypatch.setattr(flexspim.train, "fit", stopped)
    out = tmp_path / "run"
    argv = ["train", "--data", str(tmp_path / "f.npz"), "--time-bins", "4", "--out", str(out),
            "--no-progress", "--threads", "1"]
    assert main(argv) == 130
    assert _err(capsys) == [f"flexspim: interrupted before the first epoch finished: no "
                            f"checkpoint in {out}, nothing to resume; run the same command "
                            f"again (without --resume) to start over"]
    assert main(argv) == 130  # the advice, followed, starts the run again
    assert _err(capsys) == [f"flexspim: interrupted; the last finished epoch is in "
                            f"{out / 'checkpoint.pt'}: add --resume to the same command to "
                            f"continue"]
    assert main([*argv, "--resume"]) == 130 and seen == [False, False, True]


def test_ctrl_c_in_reproduce_names_the_real_folder(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    import flexspim.cli.reproduce as cli_reproduce

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli_reproduce, "reproduce", interrupted)
    assert main(["reproduce", "--quick", "--out", str(tmp_path / "r"), "--no-progress"]) == 130
    assert _err(capsys) == [f"flexspim: interrupted; the points computed so far are kept in "
                            f"{tmp_path / 'r' / 'points.sqlite'}: run the same command again "
                            f"to continue"]


def test_simulate_without_labels_prints_the_predictions(files: dict[str, Path],
                                                        capsys: pytest.CaptureFixture[str]
                                                        ) -> None:
    from flexspim.net import load_network
    from flexspim.sim import simulate

    assert main(["simulate", str(files["net"]), str(files["spikes"]), "--no-progress"]) == 0
    out = capsys.readouterr().out
    expected = simulate(load_network(files["net"]), np.load(files["spikes"])).predictions
    assert ("predicted class (no labels given): " + ", ".join(
        f"spikes[{i}]: {int(p)}" for i, p in enumerate(expected))) in out.splitlines()
    assert main(["simulate", str(files["net"]), str(files["spikes"]), "--labels", "0,1,2",
                 "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "accuracy: " in out and "predicted class" not in out


def test_two_outputs_of_one_command_never_share_a_file(files: dict[str, Path],
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    d = files["dir"]
    assert main(["simulate", str(files["net"]), str(files["spikes"]), "--mapping",
                 str(files["map"]), "--plot", str(d / "f.png"), "--timeline", str(d / "f.png"),
                 "--no-progress"]) == 2
    assert _err(capsys) == [f"flexspim: error: --timeline {d / 'f.png'}: --plot names the same "
                            f"file; give each output its own name"]
    assert not (d / "f.png").exists()
