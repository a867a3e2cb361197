"""flexspim.data.inputs and the recording options: recordings to a network input (crop,
down-sampling, denoise, windows, polarity, labels) against Tonic's own transforms, the mismatch
messages (whose suggested command must then work), ``simulate`` and ``data frames`` on real
recordings, and the README's "your own recording" step."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

import numpy as np
import pytest
import tonic
from event_files import random_events, write_aedat4
from hypothesis import given, settings
from hypothesis import strategies as st

from flexspim.cli import main
from flexspim.data import (
    Preprocess,
    bin_events,
    check_fit,
    crop_events,
    downsample_to,
    make_events,
    make_samples,
    read_events,
    read_label_table,
    slice_by_time,
)
from flexspim.data.inputs import split_samples
from flexspim.errors import ConfigError, FormatError
from flexspim.net import Conv2d, Flatten, IntNetwork, Linear, save_network

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "src" / "flexspim" / "assets" / "digits_net.npz"


# ----------------------------------------------------------------------- kernels against Tonic

@pytest.mark.parametrize("sensor, target", [((128, 128), (32, 32)), ((346, 260), (32, 32)),
                                            ((640, 480), (64, 48)), ((1280, 720), (20, 20)),
                                            ((240, 180), (100, 100)), ((34, 34), (34, 34))])
def test_downsample_to_is_tonics_downsample(sensor: tuple[int, int],
                                            target: tuple[int, int]) -> None:
    xs, ys = np.meshgrid(np.arange(sensor[0]), np.arange(sensor[1]))
    ev = make_events(xs.ravel(), ys.ravel(), np.zeros(xs.size), np.arange(xs.size))
    ours = downsample_to(ev, (*sensor, 2), target)
    theirs = tonic.transforms.Downsample(sensor_size=(*sensor, 2), target_size=target)(ev)
    assert np.array_equal(ours, theirs)
    assert ours["x"].max() == target[0] - 1 and ours["y"].max() == target[1] - 1


def test_crop_is_tonics_center_crop() -> None:
    ev = random_events(4000, (346, 260), 0)
    theirs = tonic.transforms.CenterCrop(sensor_size=(346, 260, 2), size=(200, 100))(ev)
    ours = crop_events(ev, ((346 - 200) // 2, (260 - 100) // 2), (200, 100))
    assert np.array_equal(ours, theirs) and 0 < len(ours) < len(ev)


@settings(max_examples=60)
@given(t=st.lists(st.integers(0, 5000), min_size=1, max_size=60), window=st.integers(1, 3000))
def test_windows_are_tonics_slice_by_time(t: list[int], window: int) -> None:
    t = sorted(t)
    ev = make_events(np.arange(len(t)) % 7, np.zeros(len(t)), np.zeros(len(t)), t)
    ours = slice_by_time(ev, window)
    theirs, _ = tonic.slicers.SliceByTime(time_window=window).slice(ev, 0)
    assert len(ours) == len(theirs)
    assert all(np.array_equal(a, b) for a, b in zip(ours, theirs, strict=True))


def test_merge_polarity_counts_both_in_one_channel() -> None:
    ev = random_events(500, (10, 10), 1)
    rec = _recording(ev, (10, 10))
    keep = make_samples([rec], (10, 10, 2), Preprocess()).frames(4)
    merge = make_samples([rec], (10, 10, 2), Preprocess(polarity="merge")).frames(4)
    assert merge.shape == (1, 4, 1, 10, 10)
    assert np.array_equal(merge[:, :, 0], keep.sum(axis=2))


def _recording(events: np.ndarray, size: tuple[int, int] | None, name: str = "r.npy"):
    from flexspim.data import Recording

    return Recording(Path(name), "NumPy .npy", events, (*size, 2) if size else None)


# --------------------------------------------------------------------------- fit and messages

def test_check_fit_names_the_option_to_add() -> None:
    with pytest.raises(ConfigError, match=r"128 x 128 pixels, .*20 x 20: add --downsample 20,20$"):
        check_fit((128, 128, 2), Preprocess(), (2, 20, 20))
    with pytest.raises(ConfigError, match=r"--downsample 32,32 \(or --crop 43,0,260,260 "
                                          r"--downsample 32,32 to keep the aspect ratio\)"):
        check_fit((346, 260, 2), Preprocess(), (2, 32, 32))
    with pytest.raises(ConfigError, match="use --downsample 20,20"):
        check_fit((128, 128, 2), Preprocess(downsample=(16, 16)), (2, 20, 20))
    with pytest.raises(ConfigError, match="network takes 1: add --polarity merge"):
        check_fit((20, 20, 2), Preprocess(), (1, 20, 20))
    with pytest.raises(ConfigError, match="drop --polarity merge"):
        check_fit((20, 20, 2), Preprocess(polarity="merge"), (2, 20, 20))
    with pytest.raises(ConfigError, match="does not up-sample"):
        check_fit((16, 16, 2), Preprocess(), (2, 20, 20))
    with pytest.raises(ConfigError, match="--crop 100,0,50,50 does not fit the 128 x 128"):
        check_fit((128, 128, 2), Preprocess(crop=(100, 0, 50, 50)), (2, 20, 20))
    check_fit((346, 260, 2), Preprocess(crop=(43, 0, 260, 260), downsample=(32, 32)), (2, 32, 32))


def _net(tmp: Path, shape: tuple[int, int, int]) -> Path:
    rng = np.random.default_rng(0)
    c, h, w = shape
    net = IntNetwork(shape, (
        Conv2d("c", rng.integers(-3, 4, (4, c, 3, 3)), w_bits=4, v_bits=12, threshold=3,
               stride=(2, 2), padding=(1, 1)),
        Flatten("f"),
        Linear("fc", rng.integers(-3, 4, (3, 4 * ((h + 1) // 2) * ((w + 1) // 2))), w_bits=4,
               v_bits=12, threshold=2)), name="t")
    save_network(net, tmp / "net.npz")
    return tmp / "net.npz"


def _last_error(capsys: pytest.CaptureFixture[str]) -> str:
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines and lines[-1].startswith("flexspim: error:"), lines
    return lines[-1]


@pytest.mark.parametrize("shape, sensor", [((2, 24, 24), (346, 260)), ((1, 16, 16), (128, 128))])
def test_following_the_suggestions_gives_a_working_command(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], shape: tuple[int, int, int],
        sensor: tuple[int, int]) -> None:
    net = _net(tmp_path, shape)
    write_aedat4(tmp_path / "rec.aedat4", random_events(3000, sensor, 5), sensor)
    argv = ["simulate", str(net), str(tmp_path / "rec.aedat4"), "--time-bins", "3"]
    for _ in range(3):
        if main(argv) == 0:
            break
        fix = _last_error(capsys).split(": add ", 1)[1].split(" (or ")[0]
        argv += fix.split()
    else:
        pytest.fail(f"still failing after the suggestions: {argv}")
    assert "network t: 1 samples x 3 timesteps" in capsys.readouterr().out
    assert argv[-2:] == (["--polarity", "merge"] if shape[0] == 1 else ["--downsample", "24,24"])


def test_aspect_keeping_suggestion_works(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    net = _net(tmp_path, (2, 24, 24))
    write_aedat4(tmp_path / "rec.aedat4", random_events(3000, (346, 260), 6), (346, 260))
    argv = ["simulate", str(net), str(tmp_path / "rec.aedat4"), "--time-bins", "3"]
    assert main(argv) == 2
    alternative = _last_error(capsys).split("(or ", 1)[1].split(" to keep")[0].split()
    assert alternative[:2] == ["--crop", "43,0,260,260"]
    assert main(argv + alternative) == 0


# ------------------------------------------------------------------------------- label tables

def test_label_tables(tmp_path: Path) -> None:
    f = tmp_path / "t.csv"
    f.write_text("a.aedat4,3\nb,4\n")
    assert [(r.file, r.label, r.start_us) for r in read_label_table(f)] == [
        ("a.aedat4", 3, None), ("b", 4, None)]
    f.write_text("a,1,100,200\n")
    assert read_label_table(f)[0].end_us == 200
    f.write_text("split,label,file\ntest,2,a\ntrain,5,b\n")
    rows = read_label_table(f)
    assert [(r.file, r.label, r.split) for r in rows] == [("a", 2, "test"), ("b", 5, "train")]
    for body, message in (("a,1\nb,x\n", "line 2: label 'x'"), ("a,1,5\n", "line 1: expected 4 cells"),
                          ("a,1,9,3\n", r"span \[9, 3\)"), ("file,lbl\n", "header"),
                          ("file,label,split\na,1,dev\n", "split 'dev'"), ("", "empty")):
        f.write_text(body)
        with pytest.raises(FormatError, match=message):
            read_label_table(f)


def test_spans_windows_and_labels(tmp_path: Path) -> None:
    ev = make_events(np.arange(10) % 4, np.zeros(10), np.zeros(10), np.arange(10) * 100 + 1000)
    rec = _recording(ev, (4, 1), "clip.npy")
    f = tmp_path / "t.csv"
    f.write_text("clip,7,1000,1500\nclip.npy,2,1500,2000\n")
    s = make_samples([rec], (4, 1, 2), Preprocess(window_us=200), table=read_label_table(f))
    assert s.labels.tolist() == [7, 7, 2, 2] and s.spans == [0, 0, 1, 1]
    assert [len(e) for e in s.events] == [2, 2, 2, 2]  # Tonic drops the incomplete last window
    assert s.names == ["clip@1000#0", "clip@1000#1", "clip@1500#0", "clip@1500#1"]
    f.write_text("clip,7,5000,6000\n")
    with pytest.raises(FormatError, match=r"span \[5000, 6000\) µs holds no event"):
        make_samples([rec], (4, 1, 2), Preprocess(), table=read_label_table(f))
    f.write_text("other,1\n")
    with pytest.raises(FormatError, match="no recording named 'other'"):
        make_samples([rec], (4, 1, 2), Preprocess(), table=read_label_table(f))
    s = make_samples([_recording(ev, None, "u01_label4.npy")], (4, 1, 2), Preprocess())
    assert s.labels.tolist() == [4]


def test_split_keeps_windows_of_a_span_together() -> None:
    ev = make_events(np.zeros(40), np.zeros(40), np.zeros(40), np.arange(40) * 100)
    recs = [_recording(ev, (1, 1), f"r{i}_label{i % 2}.npy") for i in range(10)]
    s = make_samples(recs, (1, 1, 2), Preprocess(window_us=1000))
    test = split_samples(s, 0.2, seed=0)
    spans = np.array(s.spans)
    assert all(len(set(test[spans == k])) == 1 for k in set(s.spans))
    assert test.sum() == 2 * 3  # one span of each class, three windows each
    with pytest.raises(ConfigError, match="fall in the train split"):
        split_samples(s, 0.01)


# --------------------------------------------------------------------------------- commands

def test_simulate_a_folder_of_recordings_of_every_format(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from event_files import encode_evt3, save_expelliarmus

    net = _net(tmp_path, (2, 8, 8))
    folder = tmp_path / "recs"
    folder.mkdir()
    events = [random_events(400, (64, 64), i) for i in range(3)]
    write_aedat4(folder / "a.aedat4", events[0], (64, 64))
    save_expelliarmus(folder / "b.raw", events[1], "evt2")
    (folder / "c.raw").write_bytes(encode_evt3(events[2], (64, 64)))
    (folder / "labels.csv").write_text("a,0\nb,1\nc,2\n")
    args = ["simulate", str(net), str(folder), "--time-bins", "4", "--sensor-size", "64,64",
            "--downsample", "8,8", "--denoise-ms", "20", "--json", str(tmp_path / "r.json")]
    assert main(args) == 0
    out = capsys.readouterr()
    assert "3 samples x 4 timesteps" in out.out and "accuracy:" in out.out
    assert "read 3 recording(s) (AEDAT 4.0, EVT 2.0, EVT 3.0, 64 x 64 sensor)" in out.err
    import json

    doc = json.loads((tmp_path / "r.json").read_text())
    assert doc["simulation"]["labels"] == [0, 1, 2]
    # the same as binning the events by hand
    from flexspim.data import denoise_events, downsample_to
    from flexspim.sim import simulate

    x = np.stack([bin_events(downsample_to(denoise_events(e, 20_000), (64, 64, 2), (8, 8)),
                             (8, 8, 2), 4) for e in events], axis=1).astype(np.int64)
    from flexspim.net import load_network

    ref = simulate(load_network(net), x)
    assert doc["simulation"]["predictions"] == ref.predictions.tolist()


def test_truncated_recordings_on_the_command_line(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    net = _net(tmp_path, (2, 8, 8))
    write_aedat4(tmp_path / "r.aedat4", random_events(2000, (8, 8), 3), (8, 8),
                 packet_events=500)
    buf = (tmp_path / "r.aedat4").read_bytes()
    (tmp_path / "cut.aedat4").write_bytes(buf[: len(buf) // 2])
    argv = ["simulate", str(net), str(tmp_path / "cut.aedat4"), "--time-bins", "2"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "AEDAT 4.0: byte" in err[0] and "--allow-truncated" in err[0]
    assert main(argv + ["--allow-truncated"]) == 0
    assert "kept the 1 complete packets, dropped" in capsys.readouterr().err
    assert main(["data", "info", str(tmp_path / "cut.aedat4"), "--allow-truncated"]) == 0
    assert "dropped " in capsys.readouterr().out


def test_data_frames_from_labelled_recordings(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    from flexspim.train.frames import load_frames_file

    ev = random_events(3000, (128, 128), 8, span_us=1_000_000)
    write_aedat4(tmp_path / "rec.aedat4", ev, (128, 128))
    t0 = int(ev["t"][0])
    rows = [f"rec.aedat4,{k % 2},{t0 + k * 100_000},{t0 + (k + 1) * 100_000}" for k in range(10)]
    (tmp_path / "labels.csv").write_text("\n".join(rows) + "\n")
    out = tmp_path / "f.npz"
    argv = ["data", "frames", str(tmp_path / "rec.aedat4"), "--labels",
            str(tmp_path / "labels.csv"), "--time-bins", "5", "--out", str(out),
            "--downsample", "16,16", "--window-ms", "40", "--polarity", "merge"]
    assert main(argv) == 0
    frames = load_frames_file(out)
    assert frames.x_train.shape[1:] == (5, 1, 16, 16)
    assert frames.x_train.shape[0] + frames.x_test.shape[0] == 20  # 10 spans x 2 windows
    assert frames.x_test.shape[0] == 4 and sorted(frames.y_test.tolist()) == [0, 0, 1, 1]
    net = _net(tmp_path, (2, 16, 16))
    assert main(argv + ["--network", str(net), "--overwrite"]) == 2
    assert "drop --polarity merge" in _last_error(capsys)
    assert main(argv[:3] + ["--time-bins", "5", "--out", str(out), "--overwrite"]) == 2
    assert "need labels for a frames file; pass --labels" in _last_error(capsys)


@pytest.mark.parametrize("extra, message", [
    (["--crop", "1,2,3"], "--crop '1,2,3': expected X0,Y0,W,H"),
    (["--window-ms", "0"], "--window-ms 0.0"),
    (["--downsample", "300,300"], "does not up-sample"),
    (["--labels", "missing.csv"], "no such label table"),
])
def test_bad_recording_options_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                            extra: list[str], message: str) -> None:
    net = _net(tmp_path, (2, 8, 8))
    write_aedat4(tmp_path / "r.aedat4", random_events(200, (64, 64), 3), (64, 64))
    labels = [str(tmp_path / e) if e.endswith(".csv") else e for e in extra]
    assert main(["simulate", str(net), str(tmp_path / "r.aedat4"), "--time-bins", "2",
                 *labels]) == 2
    line = _last_error(capsys)
    assert message in line and "Traceback" not in line


# ------------------------------------------------------------------- README: your own recording

def test_readme_own_recording_step(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The README step: a real AEDAT 4 file written by dv-processing from test digits, read,
    cropped and down-sampled back onto the shipped model's input: the same predictions as the
    dataset's own samples give."""
    from flexspim.data import DigitsEvents
    from flexspim.net import load_network
    from flexspim.sim import simulate

    n = 6
    script = ROOT / "examples" / "digits_to_aedat4.py"
    monkeypatch.setattr(sys, "argv", [str(script), str(tmp_path), "--count", str(n)])
    runpy.run_path(str(script), run_name="__main__")  # in-process: the digits are built once
    (rec,) = read_events(tmp_path / "digits.aedat4")
    assert rec.format == "AEDAT 4.0" and rec.sensor_size == (128, 128, 2)
    run = tmp_path / "run.json"
    assert main(["simulate", str(SHIPPED), str(tmp_path / "digits.aedat4"), "--labels",
                 str(tmp_path / "labels.csv"), "--crop", "24,24,80,80", "--downsample", "20,20",
                 "--time-bins", "12", "--json", str(run)]) == 0
    import json

    doc = json.loads(run.read_text())
    digits = DigitsEvents("test", seed=0)
    x = np.stack([bin_events(digits[i][0], (20, 20, 2), 12) for i in range(n)], axis=1)
    ref = simulate(load_network(SHIPPED), x.astype(np.int64),
                   labels=[digits[i][1] for i in range(n)])
    assert doc["simulation"]["predictions"] == ref.predictions.tolist()
    assert doc["simulation"]["labels"] == ref.labels.tolist()


# ------------------------------------------------------------- inputs that used to mislead

def test_a_recordings_header_wins_over_sensor_size(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """A 64 x 48 recording with --sensor-size 640,480: refused in one line naming both sizes
    (it used to be accepted, mapping the events into a corner and overflowing); the same size
    as the header is accepted, and so is --sensor-size on a file whose header gives none."""
    net = _net(tmp_path, (2, 8, 8))
    ev = random_events(2000, (64, 48), 2)
    write_aedat4(tmp_path / "rec.aedat4", ev, (64, 48))
    argv = ["simulate", str(net), str(tmp_path / "rec.aedat4"), "--time-bins", "3",
            "--downsample", "8,8", "--no-progress"]
    assert main([*argv, "--sensor-size", "640,480"]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        f"flexspim: error: --sensor-size 640,480: {tmp_path / 'rec.aedat4'} gives its sensor "
        f"as 64 x 48 in its header, and the header wins; drop --sensor-size (it is for files "
        f"that give no size)"]
    assert main([*argv, "--sensor-size", "64,48"]) == 0
    capsys.readouterr()
    np.save(tmp_path / "rec.npy", ev)  # no header: --sensor-size gives the size
    assert main(["simulate", str(net), str(tmp_path / "rec.npy"), "--time-bins", "3",
                 "--downsample", "8,8", "--sensor-size", "64,48", "--no-progress"]) == 0
    assert "read 1 recording(s) (NumPy .npy, 64 x 48 sensor)" in capsys.readouterr().err
    frames = ["data", "frames", str(tmp_path / "rec.aedat4"), "--time-bins", "3", "--out",
              str(tmp_path / "f.npz"), "--sensor-size", "640,480"]
    assert main(frames) == 2
    assert "64 x 48 in its header" in _last_error(capsys)


def test_negative_timestamps_are_refused(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    """Events before t = 0 (which cut 9 windows into 69) are one line, in the reader and on the
    command line."""
    net = _net(tmp_path, (2, 8, 8))
    ev = make_events([1, 2, 3], [1, 2, 3], [1, 0, 1], [-6_000_000, 0, 900_000])
    np.save(tmp_path / "neg.npy", ev)
    with pytest.raises(FormatError, match=r"event 0 has t = -6000000 µs"):
        read_events(tmp_path / "neg.npy")
    assert main(["simulate", str(net), str(tmp_path / "neg.npy"), "--time-bins", "3",
                 "--window-ms", "100", "--no-progress"]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        f"flexspim: error: {tmp_path / 'neg.npy'}: NumPy .npy: event 0 has t = -6000000 µs; "
        f"timestamps are microseconds >= 0: shift them (events['t'] -= events['t'].min()) and "
        f"save the file again"]
    with pytest.raises(FormatError, match="t = -6000000 µs"):
        make_samples([_recording(ev, (8, 8))], (8, 8, 2), Preprocess())


def test_empty_and_misnamed_event_files_say_what_they_are(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    net = _net(tmp_path, (2, 8, 8))
    np.save(tmp_path / "none.npy", make_events([], [], [], []))
    (tmp_path / "zero.aedat4").write_bytes(b"")
    (tmp_path / "text.aedat4").write_text("hello\n")
    (tmp_path / "zero.npy").write_bytes(b"")
    cases = {
        "none.npy": "NumPy .npy: holds no events; pass a recording with at least one event",
        "zero.aedat4": "byte 0: empty file; pass an event recording",
        "text.aedat4": "byte 0: not an event file flexspim reads (it starts with b'hello\\n')",
        "zero.npy": "byte 0: empty file; pass an event recording",
    }
    for name, message in cases.items():
        assert main(["simulate", str(net), str(tmp_path / name), "--time-bins", "3",
                     "--no-progress"]) == 2, name
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith(
            f"flexspim: error: {tmp_path / name}: {message}"), (name, err)
        assert "pickle" not in err[0] and ".npy array" not in err[0], (name, err)


def test_a_plain_event_table_gets_advice_that_works(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """An [N, 4] .npy (columns x, y, p, t) is no event array: the message says how to make one,
    and the command then runs (it used to advise dropping --time-bins, which then failed)."""
    net = _net(tmp_path, (2, 8, 8))
    rng = np.random.default_rng(0)
    table = np.stack([rng.integers(0, 8, 100), rng.integers(0, 8, 100), rng.integers(0, 2, 100),
                      np.sort(rng.integers(0, 10_000, 100))], axis=1)
    path = tmp_path / "plain.npy"
    np.save(path, table)
    argv = ["simulate", str(net), str(path), "--time-bins", "3", "--no-progress"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"flexspim: error: {path}: holds a plain array of shape (100, 4), neither "
                   f"events nor binned spikes [T, N, 2, 8, 8]; if its columns are x, y, p and t "
                   f"(µs), save them as events: a = numpy.load('{path}'); numpy.save('{path}', "
                   f"flexspim.data.make_events(*a.T))"]
    advice = err[0].split("; if its columns are x, y, p and t (µs), save them as events: ")[1]
    exec(advice.replace("numpy.", "np.").replace("flexspim.data.", ""),
         {"np": np, "make_events": make_events})
    assert main(argv) == 0
    assert "network t: 1 samples x 3 timesteps" in capsys.readouterr().out
