"""flexspim.data: AEDAT 3.1 against the specification, binning, transforms, the offline digits
dataset, DVS Gesture in both layouts, ``flexspim data info``."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import flexspim.cli as cli
from flexspim.data import (
    EVENT_DTYPE,
    Compose,
    Denoise,
    DigitsConfig,
    DigitsEvents,
    Downsample,
    DVSGesture,
    ToFrames,
    bin_events,
    decode_aedat,
    denoise_events,
    describe,
    digits_split,
    downsample_events,
    downsampled_size,
    inspect_path,
    load_frames,
    make_events,
    read_aedat,
    read_aedat_header,
    read_labels,
    summarize_aedat,
    write_aedat,
)
from flexspim.errors import ConfigError, FormatError

# --------------------------------------------------------------------------- AEDAT 3.1 builder
# Written from the specification, independently of flexspim's writer.

HEADER = b"#!AER-DAT3.1\r\n#Format: RAW\r\n#Source 1: DVS128\r\n#!END-HEADER\r\n"


def pol_word(x: int, y: int, p: int, valid: int = 1) -> int:
    return (x << 17) | (y << 2) | (p << 1) | valid


def packet(
    words: list[tuple[int, int]],
    *,
    overflow: int = 0,
    etype: int = 1,
    esize: int = 8,
    number: int | None = None,
    capacity: int | None = None,
    valid: int | None = None,
) -> bytes:
    n = len(words) if number is None else number
    nvalid = sum(w & 1 for w, _ in words) if valid is None else valid
    head = struct.pack(
        "<hhiiiiii", etype, 1, esize, 4, overflow, n if capacity is None else capacity, n, nvalid
    )
    return head + b"".join(struct.pack("<Ii", w, ts) for w, ts in words)


def other_packet(n: int, size: int = 12, etype: int = 2) -> bytes:
    head = struct.pack("<hhiiiiii", etype, 1, size, 4, 0, n, n, n)
    return head + b"\x5a" * (n * size)


def test_event_dtype_is_tonics_dvsgesture_dtype() -> None:
    from tonic.datasets import DVSGesture as TonicGesture

    assert EVENT_DTYPE == TonicGesture.dtype
    assert EVENT_DTYPE.names == ("x", "y", "p", "t")


def test_read_aedat_follows_the_specification(tmp_path: Path) -> None:
    body = (
        packet(
            [(pol_word(3, 4, 1), 10), (pol_word(5, 6, 0, valid=0), 11), (pol_word(127, 0, 0), 12)]
        )
        + other_packet(3)  # a non-polarity packet of 12-byte events: skipped
        + packet([(pol_word(0, 127, 1), 7)], overflow=2)  # timestamp (2 << 31) | 7
        + packet([])  # empty polarity packet
    )
    f = tmp_path / "rec.aedat"
    f.write_bytes(HEADER + body)
    ev = read_aedat(f)
    assert ev.dtype == EVENT_DTYPE
    assert ev["x"].tolist() == [3, 127, 0]
    assert ev["y"].tolist() == [4, 0, 127]
    assert ev["p"].tolist() == [True, False, True]
    assert ev["t"].tolist() == [10, 12, (2 << 31) | 7]
    head = read_aedat_header(f)
    assert head.version == "3.1" and head.source == "DVS128" and head.sensor_size == (128, 128, 2)
    assert head.data_offset == len(HEADER)
    _, summary = summarize_aedat(f)
    assert (summary.n_packets, summary.n_polarity_packets) == (4, 3)
    assert (summary.n_polarity_events, summary.n_valid_polarity_events) == (4, 3)


def test_packet_capacity_above_number_uses_event_number(tmp_path: Path) -> None:
    f = tmp_path / "cap.aedat"
    f.write_bytes(
        HEADER + packet([(pol_word(1, 2, 1), 5)], capacity=64) + packet([(pol_word(2, 2, 0), 9)])
    )
    assert read_aedat(f)["t"].tolist() == [5, 9]


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 0x7FFF),
            st.integers(0, 0x7FFF),
            st.booleans(),
            st.booleans(),
            st.integers(0, 2**31 - 1),
            st.integers(0, 3),
        ),
        max_size=40,
    ),
    st.integers(1, 7),
)
def test_reader_matches_spec_on_random_packets(rows: list, per_packet: int) -> None:
    body = b""
    expect = []
    for k in range(0, len(rows), per_packet):
        chunk = rows[k : k + per_packet]
        ov = chunk[0][5]
        body += packet(
            [(pol_word(x, y, int(p), int(v)), ts) for x, y, p, v, ts, _ in chunk], overflow=ov
        )
        expect += [(x, y, p, (ov << 31) | ts) for x, y, p, v, ts, _ in chunk if v]
        body += other_packet(k % 3, size=6)
    ev = decode_aedat(HEADER + body)
    assert (
        list(
            zip(ev["x"].tolist(), ev["y"].tolist(), ev["p"].tolist(), ev["t"].tolist(), strict=True)
        )
        == expect
    )


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 300), st.integers(1, 50), st.integers(0, 2**33))
def test_write_then_read_round_trips(n: int, packet_events: int, t0: int) -> None:
    rng = np.random.default_rng(n)
    t = np.sort(t0 + rng.integers(0, 2**32, n))  # crosses timestamp-overflow boundaries
    ev = make_events(rng.integers(0, 346, n), rng.integers(0, 260, n), rng.integers(0, 2, n), t)
    from flexspim.data import encode_aedat

    out = decode_aedat(encode_aedat(ev, source="DAVIS346", packet_events=packet_events))
    np.testing.assert_array_equal(out, ev)


def test_write_aedat_is_readable(tmp_path: Path) -> None:
    ev = make_events([1, 2], [3, 4], [0, 1], [100, 2**31 + 5])
    write_aedat(tmp_path / "a.aedat", ev)
    np.testing.assert_array_equal(read_aedat(tmp_path / "a.aedat"), ev)
    with pytest.raises(ConfigError, match="events.x"):
        write_aedat(tmp_path / "b.aedat", make_events([-1], [0], [0], [0]))


BAD_FILES = {
    "wrong magic": (b"#!AER-DAT2.0\r\n#!END-HEADER\r\n", "byte 0: AEDAT version 2.0"),
    "not aedat": (b"hello", "byte 0: not an AEDAT file"),
    "no end header": (b"#!AER-DAT3.1\r\n#Format: RAW\r\n", "without '#!END-HEADER'"),
    "binary in header": (b"#!AER-DAT3.1\r\nxx\r\n", "byte 14: header line does not start"),
    "truncated header": (
        HEADER + packet([(pol_word(1, 1, 1), 1)])[:20],
        f"byte {len(HEADER)}: truncated packet header",
    ),
    "truncated body": (
        HEADER + packet([(pol_word(1, 1, 1), 1)] * 3)[:-5],
        f"byte {len(HEADER)}: truncated packet",
    ),
    "event size": (
        HEADER + packet([(1, 1)], esize=12),
        f"byte {len(HEADER)}: polarity packet with eventSize 12",
    ),
    "valid above number": (HEADER + packet([(1, 1)], valid=5), "corrupt packet header"),
    "second packet": (
        HEADER + packet([(1, 1)]) + packet([(1, 1)], number=-1),
        f"byte {len(HEADER) + 36}: corrupt packet header",
    ),
    "negative ts": (
        HEADER + packet([(pol_word(1, 1, 1), 1), (pol_word(1, 1, 1), -4)]),
        f"byte {len(HEADER) + 28 + 12}: negative",
    ),
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_bad_aedat_names_file_and_byte_offset(tmp_path: Path, name: str) -> None:
    data, message = BAD_FILES[name]
    f = tmp_path / "bad.aedat"
    f.write_bytes(data)
    with pytest.raises(FormatError) as exc:
        read_aedat(f)
    text = str(exc.value)
    assert str(f) in text and message in text and "\n" not in text


def test_missing_aedat_is_a_format_error(tmp_path: Path) -> None:
    with pytest.raises(FormatError, match="no such file"):
        read_aedat(tmp_path / "none.aedat")


# --------------------------------------------------------------------------- binning


def naive_bins(ev: np.ndarray, size: tuple[int, int, int], n_bins: int) -> np.ndarray:
    w, h, p = size
    out = np.zeros((n_bins, p, h, w), dtype=np.int64)
    t0, t1 = int(ev["t"].min()), int(ev["t"].max())
    for e in ev:
        k = (int(e["t"]) - t0) * n_bins // (t1 - t0 + 1)
        out[k, int(e["p"]) if p == 2 else 0, e["y"], e["x"]] += 1
    return out


def test_bin_events_by_hand() -> None:
    ev = make_events([0, 1, 1, 2], [0, 0, 0, 1], [1, 0, 0, 1], [100, 149, 150, 199])
    f = bin_events(ev, (3, 2, 2), 2)
    assert f.dtype == np.int16 and f.shape == (2, 2, 2, 3)
    # span 100..199 = 100 µs -> bins [100, 150), [150, 200)
    assert f[0, 1, 0, 0] == 1 and f[0, 0, 0, 1] == 1
    assert f[1, 0, 0, 1] == 1 and f[1, 1, 1, 2] == 1
    assert f.sum() == 4
    g = bin_events(make_events([1, 1], [0, 0], [0, 0], [5, 5]), (3, 2, 2), 3, binary=True)
    assert g.sum() == 1 and g[0, 0, 0, 1] == 1
    assert bin_events(make_events([], [], [], []), (3, 2, 2), 4).shape == (4, 2, 2, 3)


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 60), st.integers(1, 6), st.integers(1, 2), st.integers(0, 10**7))
def test_bin_events_matches_a_naive_loop(n: int, n_bins: int, npol: int, span: int) -> None:
    rng = np.random.default_rng(n * 7 + n_bins)
    ev = make_events(
        rng.integers(0, 5, n),
        rng.integers(0, 4, n),
        rng.integers(0, 2, n),
        rng.integers(0, span + 1, n),
    )
    f = bin_events(ev, (5, 4, npol), n_bins)
    np.testing.assert_array_equal(f, naive_bins(ev, (5, 4, npol), n_bins))
    assert f.sum() == n  # no event is lost
    assert bin_events(ev, (5, 4, npol), n_bins, binary=True).max() <= 1


def test_bin_events_rejects_bad_input() -> None:
    ev = make_events([5], [0], [0], [0])
    with pytest.raises(FormatError, match="x=5 outside the sensor width 5"):
        bin_events(ev, (5, 4, 2), 2)
    with pytest.raises(ConfigError, match="n_time_bins"):
        bin_events(make_events([1], [0], [0], [0]), (5, 4, 2), 0)
    with pytest.raises(FormatError, match="fields x, y, p, t"):
        bin_events(np.zeros(3), (5, 4, 2), 2)


# --------------------------------------------------------------------------- transforms


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 80), st.integers(0, 3000), st.integers(1, 6))
def test_denoise_equals_tonic(n: int, filter_time: int, side: int) -> None:
    from tonic.functional import denoise_numpy

    rng = np.random.default_rng(n * 31 + side)
    ev = make_events(
        rng.integers(0, side, n),
        rng.integers(0, side, n),
        rng.integers(0, 2, n),
        np.sort(rng.integers(0, 5000, n)),
    )
    ours = denoise_events(ev, filter_time)
    if n:
        np.testing.assert_array_equal(ours, denoise_numpy(ev.copy(), filter_time))
    else:
        assert len(ours) == 0
    assert np.array_equal(Denoise(filter_time)(ev), ours)


def test_downsample_is_integer_division() -> None:
    ev = make_events([0, 3, 5, 127], [2, 3, 8, 127], [0, 1, 0, 1], [1, 2, 3, 4])
    d = downsample_events(ev, 3)
    assert d["x"].tolist() == [0, 1, 1, 42] and d["y"].tolist() == [0, 1, 2, 42]
    assert d["t"].tolist() == [1, 2, 3, 4] and ev["x"][1] == 3  # input unchanged
    assert downsampled_size((128, 128, 2), 3) == (43, 43, 2)
    with pytest.raises(ConfigError):
        downsample_events(ev, 0)
    frames = Compose((Downsample(4), ToFrames((32, 32, 2), 3)))(ev)
    assert frames.shape == (3, 2, 32, 32) and frames.sum() == 4


# --------------------------------------------------------------------------- digits


@pytest.fixture(scope="module")
def digits_test() -> DigitsEvents:
    return DigitsEvents("test")


def test_digits_dataset_shape_and_split(digits_test: DigitsEvents) -> None:
    train = DigitsEvents("train")
    assert len(train) + len(digits_test) == 1797
    assert not set(train.indices) & set(digits_test.indices)
    counts = np.bincount(digits_test.targets, minlength=10)
    assert counts.min() >= 30 and counts.max() <= 40  # stratified: ~20% of each class
    assert digits_test.classes == [str(d) for d in range(10)]
    w, h, p = digits_test.sensor_size
    assert (w, h, p) == (20, 20, 2)
    ev, label = digits_test[0]
    assert ev.dtype == EVENT_DTYPE and 0 <= label <= 9
    assert 300 < len(ev) < 5000
    assert ev["x"].min() >= 0 and ev["x"].max() < w and ev["y"].max() < h
    assert np.all(np.diff(ev["t"]) >= 0) and ev["t"].max() < 300_000
    assert 0.3 < ev["p"].mean() < 0.7  # ON and OFF edges both
    ev["x"][:] = 0  # items are copies
    assert digits_test[0][0]["x"].max() > 0
    with pytest.raises(IndexError):
        digits_test[len(digits_test)]
    with pytest.raises(ConfigError, match="split"):
        DigitsEvents("val")


def test_digits_deterministic_for_a_seed() -> None:
    cfg = DigitsConfig(steps_per_saccade=4)
    a, b, c = (DigitsEvents("test", seed=s, config=cfg) for s in (1, 1, 2))
    np.testing.assert_array_equal(a[5][0], b[5][0])
    assert not np.array_equal(a[5][0], c[5][0])
    np.testing.assert_array_equal(a.indices, c.indices)  # the split does not depend on the seed


def test_digits_static_image_emits_only_noise() -> None:
    still = DigitsEvents(
        "test", config=DigitsConfig(saccade_px=0.0, noise_rate_hz=0.0, steps_per_saccade=2)
    )
    assert sum(len(still[i][0]) for i in range(20)) == 0
    with pytest.raises(ConfigError, match="DigitsConfig.contrast"):
        DigitsConfig(contrast=0.0)


def test_digits_split_is_stratified_and_fixed() -> None:
    labels = np.repeat(np.arange(3), 10)
    s = digits_split(labels)
    assert len(s["test"]) == 6 and np.array_equal(np.bincount(labels[s["test"]]), [2, 2, 2])
    assert np.array_equal(digits_split(labels)["test"], s["test"])


def test_load_frames(digits_test: DigitsEvents) -> None:
    x, y = load_frames(digits_test, 5)
    assert x.shape == (len(digits_test), 5, 2, 20, 20) and x.dtype == np.int16
    assert y.dtype == np.int64 and np.array_equal(y, digits_test.targets)
    ev, _ = digits_test[3]
    assert x[3].sum() == len(ev)
    xb, _ = load_frames(digits_test, 5, binary=True)
    assert xb.max() == 1 and np.array_equal(xb, np.minimum(x, 1))
    with pytest.raises(ConfigError, match="sensor_size"):
        load_frames([(ev, 0)], 5)


# --------------------------------------------------------------------------- DVS Gesture


def fake_original(root: Path) -> dict[str, np.ndarray]:
    """Two recordings with labels; events every 10 µs."""
    root.mkdir(parents=True, exist_ok=True)
    recs = {}
    for k, name in enumerate(["user01_fluorescent", "user24_led"]):
        n = 400
        t = np.arange(n, dtype=np.int64) * 10 + 1000 * k
        ev = make_events(np.arange(n) % 128, (np.arange(n) * 7) % 128, np.arange(n) % 2, t)
        write_aedat(root / f"{name}.aedat", ev, packet_events=64)
        recs[name] = ev
        (root / f"{name}_labels.csv").write_text(
            "class,startTime_usec,endTime_usec\n"
            f"{1 + k},{1000 * k + 100},{1000 * k + 500}\n11,{1000 * k + 2000},{1000 * k + 3000}\n"
        )
    (root / "trials_to_train.txt").write_text("user01_fluorescent.aedat\n\n")
    (root / "trials_to_test.txt").write_text("user24_led.aedat\n")
    return recs


def test_dvsgesture_original_layout(tmp_path: Path) -> None:
    recs = fake_original(tmp_path / "DvsGesture")
    ds = DVSGesture(tmp_path, "train")
    assert ds.layout == "original" and len(ds) == 2 and ds.targets.tolist() == [0, 10]
    ev, label = ds[0]
    src = recs["user01_fluorescent"]
    want = src[(src["t"] >= 100) & (src["t"] < 500)]
    assert label == 0 and len(ev) == len(want) == 40
    np.testing.assert_array_equal(ev["x"], want["x"])
    assert ev["t"].tolist() == (want["t"] - 100).tolist()
    test = DVSGesture(tmp_path / "DvsGesture", "test", layout="original")
    assert [s.user for s in test.samples] == [24, 24] and test.samples[0].lighting == "led"
    assert test[0][1] == 1 and len(test[1][0]) == 100
    frames = DVSGesture(tmp_path, "test", transform=ToFrames((128, 128, 2), 4))[0][0]
    assert frames.shape == (4, 2, 128, 128)


def test_dvsgesture_tonic_layout(tmp_path: Path) -> None:
    folder = tmp_path / "DVSGesture" / "ibmGestureTrain" / "user03_natural"
    folder.mkdir(parents=True)
    arr = np.array([[1, 2, 1, 0.5], [3, 4, 0, 2.0], [5, 6, 1, 3.25]])
    np.save(folder / "10.npy", arr)
    np.save(folder / "2.npy", arr[:2])
    ds = DVSGesture(tmp_path, "train")
    assert ds.layout == "tonic" and ds.targets.tolist() == [2, 10]
    ev, label = ds[1]
    assert label == 10 and ev.dtype == EVENT_DTYPE
    assert ev["t"].tolist() == [500, 2000, 3250] and ev["p"].tolist() == [True, False, True]
    info = inspect_path(tmp_path)
    assert info.n_events == 5 and info.samples == (("train", 2),)
    with pytest.raises(FormatError, match="no folder ibmGestureTest"):
        DVSGesture(tmp_path, "test")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("klass,start,end\n1,0,10\n", "line 1: header"),
        (
            "class,startTime_usec,endTime_usec\n1,0,10\n12,0,10\n",
            "line 3: class 12 is outside 1-11",
        ),
        ("class,startTime_usec,endTime_usec\n0,0,10\n", "line 2: class 0"),
        ("class,startTime_usec,endTime_usec\n1,abc,10\n", "line 2: '1,abc,10' is not"),
        ("class,startTime_usec,endTime_usec\n1,50,10\n", "line 2: span [50, 10)"),
        ("class,startTime_usec,endTime_usec\n1,5\n", "line 2:"),
    ],
)
def test_bad_label_files(tmp_path: Path, text: str, message: str) -> None:
    f = tmp_path / "user01_led_labels.csv"
    f.write_text(text)
    with pytest.raises(FormatError) as exc:
        read_labels(f)
    assert str(f) in str(exc.value) and message in str(exc.value)


def test_bad_dataset_folders(tmp_path: Path) -> None:
    fake_original(tmp_path)
    (tmp_path / "trials_to_train.txt").write_text("user01_fluorescent.aedat\nuser09_led.aedat\n")
    with pytest.raises(FormatError, match="line 2: user09_led.aedat is not in"):
        DVSGesture(tmp_path, "train")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FormatError, match="neither DVS Gesture layout"):
        DVSGesture(empty, "train")
    with pytest.raises(ConfigError, match="layout"):
        DVSGesture(tmp_path, layout="zip")


# --------------------------------------------------------------------------- info and CLI


def test_inspect_path_kinds(tmp_path: Path) -> None:
    fake_original(tmp_path / "g")
    info = inspect_path(tmp_path / "g")
    assert info.kind == "IBM DVS Gesture, original layout" and len(info.classes) == 11
    assert info.n_events == 800 and info.samples == (("train", 2), ("test", 2))
    assert info.duration_us == 2 * (400 + 1000)
    a = inspect_path(tmp_path / "g" / "user24_led.aedat")
    assert (a.n_events, a.duration_us, a.sensor_size) == (400, 3990, (128, 128, 2))
    ev = make_events([1, 9], [2, 3], [0, 1], [10, 60])
    np.save(tmp_path / "e.npy", ev)
    n = inspect_path(tmp_path / "e.npy")
    assert (n.n_events, n.duration_us, n.sensor_size) == (2, 50, (10, 4, 2))
    lines = describe(info)
    assert any(line.startswith("classes      11:") for line in lines)
    with pytest.raises(FormatError, match="no such file or folder"):
        inspect_path(tmp_path / "missing")
    (tmp_path / "x.txt").write_text("hi")
    with pytest.raises(FormatError, match="byte 0: not an event file"):
        inspect_path(tmp_path / "x.txt")


def run_cli(monkeypatch: pytest.MonkeyPatch, argv: list[str]) -> int:
    monkeypatch.setattr(cli, "SUBCOMMAND_MODULES", ("flexspim.cli.data",))
    return cli.main(argv)


def test_cli_data_info(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert "flexspim.cli.data" in cli.SUBCOMMAND_MODULES
    ev = make_events([1, 2, 3], [1, 1, 1], [0, 1, 0], [0, 500, 2_000_000])
    write_aedat(tmp_path / "r.aedat", ev)
    out_json = tmp_path / "info.json"
    assert (
        run_cli(monkeypatch, ["data", "info", str(tmp_path / "r.aedat"), "--json", str(out_json)])
        == 0
    )
    out = capsys.readouterr().out
    assert "events       3" in out and "2.000000 s" in out and "128 x 128 pixels" in out
    from flexspim._io import read_versioned_json

    doc = read_versioned_json(out_json, "flexspim-data-info", 1)
    assert doc["n_events"] == 3 and doc["sensor_size"] == [128, 128, 2]
    (tmp_path / "bad.aedat").write_bytes(HEADER + b"\x01\x00")
    assert run_cli(monkeypatch, ["data", "info", str(tmp_path / "bad.aedat")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert (
        len(err) == 1 and err[0].startswith("flexspim: error:") and f"byte {len(HEADER)}:" in err[0]
    )
    assert run_cli(monkeypatch, ["data", "info", "digits"]) == 0
    assert "samples      1797 (train 1438, test 359)" in capsys.readouterr().out


def test_cli_data_frames_feeds_simulate(tmp_path, capsys) -> None:
    """`flexspim data frames digits` writes a frames file whose test split, labels included,
    `flexspim simulate` runs; a frames file of the wrong version is a one-line error."""
    import json

    from flexspim.cli import main
    from flexspim.net import Flatten, IntNetwork, Linear, save_network
    from flexspim.train.frames import load_frames_file

    out = tmp_path / "d.npz"
    assert main(["data", "frames", "digits", "--time-bins", "3", "--out", str(out)]) == 0
    frames = load_frames_file(out)
    assert frames.x_train.shape[1:] == (3, 2, 20, 20) and frames.x_test.shape[0] == 359
    net = IntNetwork((2, 20, 20), (Flatten("flat"), Linear(
        "fc", np.random.default_rng(0).integers(-3, 4, (10, 800)), w_bits=3, v_bits=12,
        threshold=4)), name="lin")
    save_network(net, tmp_path / "n.npz")
    capsys.readouterr()
    assert main(["simulate", str(tmp_path / "n.npz"), str(out), "--json",
                 str(tmp_path / "r.json")]) == 0
    assert "accuracy" in capsys.readouterr().out
    doc = json.loads((tmp_path / "r.json").read_text())
    assert doc["format"] == "flexspim-run"  # the simulation with its NeuroBench metrics
    assert doc["simulation"]["labels"] == frames.y_test.tolist()
    assert main(["data", "frames", "digits", "--time-bins", "0", "--out", str(out)]) == 2
    assert "--time-bins 0" in capsys.readouterr().err
