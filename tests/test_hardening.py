"""Hardening: CLI errors are one line with exit code 2 (a traceback only with --debug); the file
readers (AEDAT, network, mapping, hardware, sweep, run document, sweep store) survive random and
mutated bytes with nothing but FlexspimError; output files are written atomically; a training
run killed part-way resumes to the same result.

(Killing a sweep part-way and resuming it is tested in tests/test_dse.py.)
"""

from __future__ import annotations

import functools
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flexspim._io import write_json, write_text_atomic, write_with
from flexspim.cli import main
from flexspim.errors import FlexspimError
from flexspim.hw import default_hardware, load_hardware, save_hardware
from flexspim.net import load_network, save_network
from flexspim.net.presets import dvs_gesture_scnn

FUZZ = settings(max_examples=40, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])


# ----------------------------------------------------------------------------- CLI errors

def _sweep_file(tmp: Path, body: str) -> str:
    p = tmp / "s.yaml"
    p.write_text(body)
    return str(p)


CLI_CASES: list[tuple[str, Callable[[Path], list[str]], str]] = [
    ("sweep: missing file", lambda t: ["sweep", str(t / "nope.yaml")], "no such sweep file"),
    ("sweep: bad YAML", lambda t: ["sweep", _sweep_file(t, "a: [\n")], "not valid YAML"),
    ("sweep: unknown key", lambda t: ["sweep", _sweep_file(
        t, "format: flexspim-sweep\nversion: 1\nspcae: {}\n")], "did you mean 'space'"),
    ("sweep: old version", lambda t: ["sweep", _sweep_file(
        t, "format: flexspim-sweep\nversion: 0\n")], "version 0"),
    ("sweep: bad workers", lambda t: ["sweep", _sweep_file(
        t, "format: flexspim-sweep\nversion: 1\n"), "--workers", "0"], "--workers 0"),
    ("sweep: not a store", lambda t: ["sweep", _sweep_file(
        t, "format: flexspim-sweep\nversion: 1\n"), "--out", str(t)], "is a folder"),
    ("report: missing", lambda t: ["report", str(t / "r.json")], "no such file"),
    ("report: not JSON", lambda t: ["report", _write(t / "r.json", "{oops")], "not valid JSON"),
    ("report: other format", lambda t: ["report", _write(
        t / "r.json", json.dumps({"format": "flexspim-mapping", "version": 1}))],
     "not a simulation result or run document"),
    ("demo: out is a file", lambda t: ["demo", "--out", _write(t / "f", "x")], "is a file"),
    ("demo: bad hardware", lambda t: ["demo", "--out", str(t / "d"), "--hw", _write(
        t / "hw.yaml", "voltage: 5\n")], "voltage"),
    ("simulate: missing network", lambda t: ["simulate", str(t / "n.npz"), str(t / "e.npy")],
     "n.npz"),
    ("bad option value", lambda t: ["sweep", "x.yaml", "--workers", "two"], "invalid int"),
    ("data info: no encoding named", lambda t: ["data", "info", _write(t / "x.raw", "% hi\n")],
     "Prophesee: byte 0: the header names no encoding"),
    ("data info: cut EVT 2.0", lambda t: ["data", "info", _write(
        t / "x.bin", "% evt 2.0\n% end\nabc")], "EVT 2.0: byte 16: the file is cut short"),
    ("simulate: recording without --time-bins", lambda t: ["simulate", str(
        Path(__file__).parents[1] / "src" / "flexspim" / "assets" / "digits_net.npz"), _write(
        t / "x.raw", "% evt 2.0\n% end\n")], "pass --time-bins"),
]


def _write(p: Path, text: str) -> str:
    p.write_text(text)
    return str(p)


@pytest.mark.parametrize("name, argv, match", CLI_CASES, ids=[c[0] for c in CLI_CASES])
def test_cli_errors_are_one_line_exit_2(name: str, argv: Callable[[Path], list[str]], match: str,
                                        tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    args = argv(tmp_path)
    try:
        code = main(args)
    except SystemExit as exc:  # argparse usage errors
        code = exc.code
    out = capsys.readouterr()
    lines = out.err.strip().splitlines()
    assert code == 2, out.err
    assert len(lines) == 1 and lines[0].startswith("flexspim: error:"), out.err
    assert match in lines[0]
    assert "Traceback" not in out.err + out.out


def test_debug_shows_the_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--debug", "sweep", str(tmp_path / "nope.yaml")]) == 2
    err = capsys.readouterr().err
    assert "Traceback" in err and err.strip().splitlines()[-1].startswith("flexspim: error:")


# ----------------------------------------------------------------------------- fuzzing readers

def _mutations() -> st.SearchStrategy[list[tuple[str, int, int]]]:
    op = st.tuples(st.sampled_from(["flip", "set", "cut", "insert", "delete"]),
                   st.integers(0, 1 << 30), st.integers(0, 255))
    return st.lists(op, min_size=1, max_size=6)


def mutate(data: bytes, ops: list[tuple[str, int, int]]) -> bytes:
    b = bytearray(data)
    for kind, pos, val in ops:
        if not b:
            b = bytearray([val])
            continue
        i = pos % len(b)
        if kind == "flip":
            b[i] ^= 1 << (val % 8)
        elif kind == "set":
            b[i] = val
        elif kind == "cut":
            del b[i:]
        elif kind == "insert":
            b[i:i] = bytes([val]) * (1 + val % 7)
        else:
            del b[i:i + 1 + val % 16]
    return bytes(b)


def _check(reader: Callable[[Path], Any], path: Path, data: bytes) -> None:
    path.write_bytes(data)
    try:
        reader(path)
    except FlexspimError as exc:
        assert "\n" not in str(exc)


@functools.cache
def valid_samples() -> dict[str, bytes]:
    """Valid files of every format, made here (once per session)."""
    import tempfile

    from flexspim.data import encode_aedat
    from flexspim.data.events import make_events

    d = Path(tempfile.mkdtemp(prefix="flexspim-valid-"))
    rng = np.random.default_rng(0)
    n = 300
    ev = make_events(rng.integers(0, 128, n), rng.integers(0, 128, n), rng.integers(0, 2, n),
                     np.sort(rng.integers(0, 1 << 33, n)))
    out = {"aedat": encode_aedat(ev, packet_events=64)}
    out.update(_recording_samples(d))
    net = dvs_gesture_scnn(convs=((4, 2), (4, 2)), input_shape=(2, 8, 8), n_classes=3)
    save_network(net, d / "n.npz")
    out["network"] = (d / "n.npz").read_bytes()
    save_hardware(default_hardware(), d / "h.yaml")
    out["hardware_yaml"] = (d / "h.yaml").read_bytes()
    save_hardware(default_hardware(), d / "h.toml")
    out["hardware_toml"] = (d / "h.toml").read_bytes()
    out["sweep"] = (Path(__file__).parents[1] / "examples" / "sweep.yaml").read_bytes()
    shutil.rmtree(d)
    return out


def _recording_samples(d: Path) -> dict[str, bytes]:
    """Recordings of every other format, written by their libraries (see event_files.py)."""
    from event_files import (
        encode_dat,
        encode_evt2,
        encode_evt3,
        random_events,
        save_expelliarmus,
        write_aedat4,
    )

    ev = random_events(300, (64, 48), 1, span_us=50_000, same_time=True)
    write_aedat4(d / "a.aedat4", ev, (64, 48), packet_events=100)
    save_expelliarmus(d / "e.dat", ev, "dat")
    np.save(d / "e.npy", ev)
    return {"aedat4": (d / "a.aedat4").read_bytes(), "evt2": encode_evt2(ev, (64, 48)),
            "evt3": encode_evt3(ev, (64, 48)), "dat": encode_dat(ev, (64, 48)),
            "dat_expelliarmus": (d / "e.dat").read_bytes(), "npy_events": (d / "e.npy").read_bytes()}


def _read_all(path: Path) -> None:
    """read_recording, strict and salvaging a cut file: nothing but one-line FlexspimErrors."""
    from flexspim.data import read_recording

    for salvage in (False, True):
        try:
            read_recording(path, allow_truncated=salvage)
        except FlexspimError as exc:
            assert "\n" not in str(exc)


def _readers() -> dict[str, tuple[str, str, Callable[[Path], Any]]]:
    """format -> (sample key, file suffix, reader)."""
    from flexspim.data import read_aedat
    from flexspim.dse import load_sweep

    return {
        "aedat": ("aedat", ".aedat", read_aedat),
        "network": ("network", ".npz", load_network),
        "hardware_yaml": ("hardware_yaml", ".yaml", load_hardware),
        "hardware_toml": ("hardware_toml", ".toml", load_hardware),
        "sweep": ("sweep", ".yaml", load_sweep),
        "aedat4": ("aedat4", ".aedat4", _read_all),
        "evt2": ("evt2", ".raw", _read_all),
        "evt3": ("evt3", ".raw", _read_all),
        "dat": ("dat", ".dat", _read_all),
        "dat_expelliarmus": ("dat_expelliarmus", ".dat", _read_all),
        "npy_events": ("npy_events", ".npy", _read_all),
    }


@pytest.mark.parametrize("fmt", list(_readers()))
@FUZZ
@given(data=st.binary(max_size=600))
def test_readers_survive_random_bytes(fmt: str, data: bytes, tmp_path: Path) -> None:
    key, suffix, reader = _readers()[fmt]
    _check(reader, tmp_path / f"f{suffix}", data)


@pytest.mark.parametrize("fmt", list(_readers()))
@FUZZ
@given(ops=_mutations())
def test_readers_survive_mutated_files(fmt: str, ops: list[tuple[str, int, int]],
                                       tmp_path: Path) -> None:
    key, suffix, reader = _readers()[fmt]
    _check(reader, tmp_path / f"f{suffix}", mutate(valid_samples()[key], ops))


def test_mutated_network_headers_are_clear_errors(tmp_path: Path) -> None:
    """The zip is intact but its JSON header is wrong in many ways."""
    import io

    with np.load(io.BytesIO(valid_samples()["network"])) as npz:
        arrays = {k: npz[k] for k in npz.files}
    header = json.loads(str(arrays["header"]))
    variants = [
        {**header, "layers": "x"}, {**header, "input_shape": "abc"},
        {**header, "layers": [{"kind": "conv2d"}]}, {**header, "layers": [1, 2]},
        {**header, "layers": [{**header["layers"][0], "w_bits": "eight"}]},
        {**header, "layers": [{**header["layers"][0], "stride": [0, 0]}]},
        {**header, "layers": header["layers"][:1]},
        {**header, "version": 99}, [], None, "text",
    ]
    for i, h in enumerate(variants):
        buf = io.BytesIO()
        np.savez(buf, **{**arrays, "header": np.array(json.dumps(h))})
        _check(load_network, tmp_path / f"v{i}.npz", buf.getvalue())


# JSON documents: mapping, run document, sim result -- fuzz their structure, not just bytes.
_json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=False)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=12)


@pytest.fixture(scope="module")
def json_docs() -> dict[str, dict[str, Any]]:
    from flexspim.compile import Activity, compile_network
    from flexspim.report import make_run_document
    from flexspim.sim import simulate

    net = dvs_gesture_scnn(convs=((4, 2), (4, 2)), input_shape=(2, 8, 8), n_classes=3)
    hw = default_hardware()
    mapping = compile_network(net, hw, policy="hs-min",
                              activity=Activity.from_sparsity(net, input_sparsity=0.9,
                                                              n_timesteps=3))
    spikes = (np.random.default_rng(0).random((3, 2, 2, 8, 8)) < 0.2).astype(np.int64)
    res = simulate(net, spikes, labels=[0, 1])
    return {"mapping": mapping.to_dict(),
            "run": make_run_document(res, mapping=mapping, hardware=hw)}


def _json_readers() -> dict[str, Callable[[Path], Any]]:
    from flexspim.compile import load_mapping
    from flexspim.report import load_run

    return {"mapping": load_mapping, "run": load_run}


def _replace_at(doc: Any, path: list[int], value: Any) -> Any:
    """Replace one node (chosen by ``path`` indices) of a JSON tree with ``value``."""
    if not path or not isinstance(doc, (dict, list)) or not doc:
        return value
    if isinstance(doc, dict):
        keys = sorted(doc)
        k = keys[path[0] % len(keys)]
        return {**doc, k: _replace_at(doc[k], path[1:], value)}
    i = path[0] % len(doc)
    return doc[:i] + [_replace_at(doc[i], path[1:], value)] + doc[i + 1:]


@pytest.mark.parametrize("fmt", ["mapping", "run"])
@FUZZ
@given(path=st.lists(st.integers(0, 50), min_size=1, max_size=5), value=_json_values,
       ops=_mutations(), raw=st.booleans())
def test_json_readers_survive_mutations(fmt: str, path: list[int], value: Any,
                                        ops: list[tuple[str, int, int]], raw: bool,
                                        json_docs: dict[str, Any], tmp_path: Path) -> None:
    doc = json.loads(json.dumps(json_docs[fmt]))
    text = json.dumps(_replace_at(doc, path, value))
    data = mutate(text.encode(), ops) if raw else text.encode()
    _check(_json_readers()[fmt], tmp_path / "d.json", data)


@FUZZ
@given(data=st.binary(max_size=400), ops=_mutations())
def test_sweep_store_survives_garbage(data: bytes, ops: list[tuple[str, int, int]],
                                      tmp_path: Path) -> None:
    from flexspim.dse import SweepPoint, open_store

    good = tmp_path / "good.sqlite"
    if not good.exists():
        with open_store(good) as s:
            s.put("k", "t", SweepPoint(n_macros=2), "ok", {"energy_per_inference_uj": 1.0})
    for blob in (data, mutate(good.read_bytes(), ops)):
        p = tmp_path / "s.sqlite"
        for extra in ("-wal", "-shm"):
            Path(str(p) + extra).unlink(missing_ok=True)
        p.write_bytes(blob)

        def read(path: Path) -> None:
            with open_store(path) as s:
                s.results()

        _check(read, p, blob)


# ----------------------------------------------------------------------------- atomic writes

def _no_temp_files(folder: Path) -> bool:
    return not [p for p in folder.iterdir() if p.name.endswith(".tmp")]


def test_failed_writes_leave_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    write_json(target, {"a": 1})
    with pytest.raises(TypeError):
        write_json(target, {"a": object()})
    assert json.loads(target.read_text()) == {"a": 1}

    def half_then_fail(tmp: Path) -> None:
        tmp.write_text("{\"half\": ")
        raise OSError("disk full")

    with pytest.raises(OSError):
        write_with(target, half_then_fail)
    assert json.loads(target.read_text()) == {"a": 1} and _no_temp_files(tmp_path)


def test_report_and_plot_writes_are_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                           ) -> None:
    import flexspim.report.html as report_html
    from flexspim.dse import PointResult, SweepPoint, plot_pareto

    target = tmp_path / "r.html"
    write_text_atomic(target, "old page")

    def broken(run: Any) -> str:
        raise RuntimeError("figure failed")

    from flexspim.sim import simulate

    net = dvs_gesture_scnn(convs=((4, 2),), input_shape=(2, 8, 8), n_classes=3)
    sim = simulate(net, np.ones((2, 1, 2, 8, 8), dtype=np.int64)).to_dict()
    report_html.write_report(sim, target)
    assert target.read_text().startswith("<!DOCTYPE html>")
    write_text_atomic(target, "old page")
    monkeypatch.setattr(report_html, "SECTIONS", (("x", "X", broken),))
    with pytest.raises(RuntimeError):
        report_html.write_report(sim, target)
    assert target.read_text() == "old page"

    plot = tmp_path / "p.png"
    plot.write_bytes(b"old")
    rs = [PointResult(key="a", sweep="t", point=SweepPoint(), status="ok",
                      metrics={"energy_per_inference_uj": 1.0, "accuracy": 0.5,
                               "latency_per_inference_us": 2.0})]
    with pytest.raises(ValueError):
        plot_pareto(rs, tmp_path / "p.unknownformat")
    plot_pareto(rs, plot)
    assert plot.read_bytes()[:4] == b"\x89PNG" and _no_temp_files(tmp_path)


def test_network_and_hardware_saves_are_atomic(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    import flexspim.net.io as net_io

    net = dvs_gesture_scnn(convs=((4, 2),), input_shape=(2, 8, 8), n_classes=3)
    save_network(net, tmp_path / "n.npz")
    before = (tmp_path / "n.npz").read_bytes()

    def fail(_net: Any) -> bytes:
        raise OSError("interrupted")

    monkeypatch.setattr(net_io, "network_to_bytes", fail)
    with pytest.raises(OSError):
        net_io.save_network(net, tmp_path / "n.npz")
    assert (tmp_path / "n.npz").read_bytes() == before and _no_temp_files(tmp_path)


# ----------------------------------------------------------------------------- killed training

def test_killed_training_run_resumes_to_the_same_result(tmp_path: Path) -> None:
    """SIGKILL `flexspim train` after its first epoch's checkpoint, resume it with --resume: the
    metrics hold each epoch once and the exported network equals an uninterrupted run's."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from flexspim.train.frames import Frames, save_frames

    rng = np.random.default_rng(7)

    def split(n: int) -> tuple[np.ndarray, np.ndarray]:
        y = rng.integers(0, 3, n)
        x = rng.poisson(0.05, (n, 4, 2, 8, 8))
        for i in range(n):
            x[i, :, y[i] % 2, 2 * y[i]:2 * y[i] + 3, 1:7] += rng.poisson(0.8, (4, 3, 6))
        return x.astype(np.int16), y.astype(np.int64)

    (xtr, ytr), (xte, yte) = split(400), split(20)
    save_frames(tmp_path / "f.npz", Frames(xtr, ytr, xte, yte, name="synthetic"))
    epochs = 6

    def train(out: Path, *extra: str) -> subprocess.Popen[bytes]:
        env = dict(os.environ, OMP_NUM_THREADS="1")
        return subprocess.Popen(
            [sys.executable, "-m", "flexspim", "train", "--data", str(tmp_path / "f.npz"),
             "--time-bins", "4", "--epochs", str(epochs), "--batch-size", "8", "--seed", "3",
             "--threads", "1", "--out", str(out), *extra],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)

    killed = tmp_path / "killed"
    proc = train(killed)
    deadline = time.monotonic() + 300
    metrics = killed / "metrics.csv"
    while time.monotonic() < deadline and proc.poll() is None:
        if metrics.exists() and len(metrics.read_text().splitlines()) >= 2:
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done_before_kill = len(metrics.read_text().splitlines()) - 1
    assert 1 <= done_before_kill < epochs, "the run was not killed part-way"
    assert not (killed / "summary.json").exists()
    assert train(killed, "--resume").wait() == 0
    assert train(tmp_path / "straight").wait() == 0

    rows = [line.split(",")[0] for line in metrics.read_text().splitlines()[1:]]
    assert rows == [str(e) for e in range(1, epochs + 1)]
    for run in ("killed", "straight"):
        assert main(["export", str(tmp_path / run / "checkpoint.pt"), "--out",
                     str(tmp_path / f"{run}.npz")]) == 0
    a, b = load_network(tmp_path / "killed.npz"), load_network(tmp_path / "straight.npz")
    for la, lb in zip(a.spiking_layers, b.spiking_layers, strict=True):
        assert np.array_equal(la.weight, lb.weight) and la.threshold == lb.threshold
