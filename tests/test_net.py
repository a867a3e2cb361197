"""The integer network: validation, the wrap helper, presets and the file format (round trips,
truncated files, other versions, files that are not networks)."""

from __future__ import annotations

import io
import json
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import int_networks

from flexspim.errors import FormatError, NetworkError
from flexspim.net import (
    NETWORK_VERSION,
    Conv2d,
    Flatten,
    IntNetwork,
    Leak,
    Linear,
    SpikeMaxPool,
    int_range,
    load_network,
    save_network,
    wrap,
)
from flexspim.net.io import network_header, network_to_bytes
from flexspim.net.presets import dvs_gesture_scnn


def assert_same_network(a: IntNetwork, b: IntNetwork) -> None:
    assert network_header(a) == network_header(b)
    for la, lb in zip(a.layers, b.layers, strict=True):
        for key in ("weight", "initial_membrane"):
            wa, wb = getattr(la, key, None), getattr(lb, key, None)
            assert (wa is None) == (wb is None)
            if wa is not None:
                np.testing.assert_array_equal(wa, wb)


@settings(max_examples=40, deadline=None)
@given(int_networks(leaky=True))
def test_file_round_trip(net: IntNetwork) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "net.npz"
        save_network(net, path)
        assert_same_network(net, load_network(path))


def _tiny() -> IntNetwork:
    conv = Conv2d(name="c", weight=np.ones((2, 1, 3, 3), np.int64), w_bits=2, v_bits=5,
                  threshold=3, stride=2, padding=1,
                  initial_membrane=np.full((2, 3, 3), -2, np.int64))
    fc = Linear(name="fc", weight=np.arange(-16, 20).reshape(2, 18) // 2, w_bits=5, v_bits=8,
                threshold=4, reset="zero")
    return IntNetwork(input_shape=(1, 5, 5), layers=(conv, SpikeMaxPool(name="p", kernel=1),
                                                     Flatten(name="f"), fc), name="tiny")


def test_save_and_load_file(tmp_path: Path) -> None:
    net = _tiny()
    path = tmp_path / "sub" / "net.npz"
    save_network(net, path)
    assert_same_network(net, load_network(path))
    assert [p.name for p in path.parent.iterdir()] == ["net.npz"]  # no temporary left over


def test_truncated_file(tmp_path: Path) -> None:
    data = network_to_bytes(_tiny())
    path = tmp_path / "cut.npz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(FormatError, match="cut.npz"):
        load_network(path)


def _rewrite_header(tmp_path: Path, change: dict) -> Path:
    with np.load(io.BytesIO(network_to_bytes(_tiny()))) as npz:
        arrays = {k: npz[k] for k in npz.files}
    header = json.loads(str(arrays["header"]))
    header.update(change)
    arrays["header"] = np.array(json.dumps(header))
    path = tmp_path / "net.npz"
    np.savez(path, **arrays)
    return path


def test_other_version_and_other_format(tmp_path: Path) -> None:
    with pytest.raises(FormatError, match=f"version 7, this flexspim reads versions 1 and "
                                          f"{NETWORK_VERSION}"):
        load_network(_rewrite_header(tmp_path, {"version": 7}))
    with pytest.raises(FormatError, match="not a flexspim network file"):
        load_network(_rewrite_header(tmp_path, {"format": "flexspim-mapping"}))


def test_non_network_files(tmp_path: Path) -> None:
    text = tmp_path / "notes.npz"
    text.write_text("hello")
    with pytest.raises(FormatError, match="not a flexspim network file"):
        load_network(text)
    plain = tmp_path / "plain.npz"
    np.savez(plain, a=np.arange(3))
    with pytest.raises(FormatError, match="no header"):
        load_network(plain)
    with pytest.raises(FormatError, match="no such network file"):
        load_network(tmp_path / "missing.npz")
    with pytest.raises(FormatError, match="is a folder"):
        load_network(tmp_path)


def test_missing_weights_and_unknown_kind(tmp_path: Path) -> None:
    path = _rewrite_header(tmp_path, {})
    with zipfile.ZipFile(path) as zf:
        kept = {n: zf.read(n) for n in zf.namelist() if not n.startswith("fc.weight")}
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in kept.items():
            zf.writestr(name, data)
    with pytest.raises(FormatError, match="'fc.weight' missing"):
        load_network(path)
    header = network_header(_tiny())
    header["layers"][1]["kind"] = "dropout"
    with pytest.raises(NetworkError, match="unknown layer kind 'dropout'"):
        load_network(_rewrite_header(tmp_path, {"layers": header["layers"]}))


def test_weights_and_threshold_must_fit_their_widths() -> None:
    with pytest.raises(NetworkError, match="weight 8 does not fit w_bits = 4"):
        Linear(name="l", weight=np.array([[8]]), w_bits=4, v_bits=8, threshold=1)
    with pytest.raises(NetworkError, match="threshold = 128 must be in"):
        Linear(name="l", weight=np.array([[1]]), w_bits=4, v_bits=8, threshold=128)
    with pytest.raises(NetworkError, match="w_bits = 9 > v_bits = 8"):
        Linear(name="l", weight=np.array([[1]]), w_bits=9, v_bits=8, threshold=1)
    with pytest.raises(NetworkError, match="reset"):
        Linear(name="l", weight=np.array([[1]]), w_bits=2, v_bits=8, threshold=1, reset="leak")
    with pytest.raises(NetworkError, match="integer array"):
        Linear(name="l", weight=np.array([[0.5]]), w_bits=2, v_bits=8, threshold=1)
    with pytest.raises(NetworkError, match="initial_membrane values must fit"):
        Linear(name="l", weight=np.array([[1]]), w_bits=2, v_bits=4, threshold=1,
               initial_membrane=np.array([8]))


def test_shapes_must_chain() -> None:
    conv = Conv2d(name="c", weight=np.ones((2, 1, 3, 3), np.int64), w_bits=2, v_bits=4,
                  threshold=1)
    fc = Linear(name="fc", weight=np.ones((3, 5), np.int64), w_bits=2, v_bits=4, threshold=1)
    with pytest.raises(NetworkError, match="expects input \\(channels=1"):
        IntNetwork(input_shape=(2, 5, 5), layers=(conv,))
    with pytest.raises(NetworkError, match="add a flatten layer"):
        IntNetwork(input_shape=(1, 5, 5), layers=(conv, fc))
    with pytest.raises(NetworkError, match="expects input \\(5,\\), gets \\(18,\\)"):
        IntNetwork(input_shape=(1, 5, 5), layers=(conv, Flatten(name="f"), fc))
    with pytest.raises(NetworkError, match="must be a conv2d or linear"):
        IntNetwork(input_shape=(1, 5, 5), layers=(conv, Flatten(name="f")))
    with pytest.raises(NetworkError, match="two layers are named 'c'"):
        IntNetwork(input_shape=(1, 5, 5), layers=(conv, conv))
    with pytest.raises(NetworkError, match="initial_membrane shape"):
        bad = Linear(name="l", weight=np.ones((3, 1), np.int64), w_bits=2, v_bits=4,
                     threshold=1, initial_membrane=np.zeros(2, np.int64))
        IntNetwork(input_shape=(1,), layers=(bad,))


@settings(max_examples=60, deadline=None)
@given(st.integers(-(2**62), 2**62), st.integers(2, 63))
def test_wrap_is_modular_and_in_range(value: int, bits: int) -> None:
    lo, hi = int_range(bits)
    got = int(wrap(np.array([value]), bits)[0])
    assert lo <= got <= hi and (got - value) % (1 << bits) == 0
    assert wrap(value, bits) == got


def test_dvs_gesture_preset_shapes() -> None:
    net = dvs_gesture_scnn(w_bits=4, v_bits=[8, 8, 8, 8, 8, 8, 12])
    assert [out for _, out in net.shapes] == [
        (16, 32, 32), (32, 16, 16), (32, 16, 16), (64, 8, 8), (64, 8, 8), (128, 4, 4),
        (2048,), (11,)]
    assert net.n_classes == 11 and len(net.spiking_layers) == 7
    assert all(int(np.abs(layer.weight).max()) <= 7 for layer in net.spiking_layers)


# ----------------------------------------------------------------------------- the leak


def test_leak_traces_by_hand() -> None:
    """shift k: v - trunc(v / 2**k), symmetric (toward zero); constant c: c toward zero, never
    past it."""
    shift = Leak("shift", 2)
    vals = [-9, -8, -5, -4, -3, -1, 0, 1, 3, 4, 5, 8, 9]
    assert [shift.apply(v) for v in vals] == [-7, -6, -4, -3, -3, -1, 0, 1, 3, 3, 4, 6, 7]
    assert shift.apply(np.array(vals)).tolist() == [shift.apply(v) for v in vals]
    const = Leak("constant", 3)
    assert [const.apply(v) for v in vals] == [-6, -5, -2, -1, 0, 0, 0, 0, 0, 1, 2, 5, 6]
    assert const.apply(np.array(vals)).tolist() == [const.apply(v) for v in vals]


@settings(max_examples=300, deadline=None)
@given(st.data(), st.integers(2, 64), st.sampled_from(["shift", "constant"]))
def test_leak_never_overflows_and_is_symmetric(data: st.DataObject, v_bits: int,
                                               kind: str) -> None:
    """For every width, amount and membrane (edges included): the leaked membrane stays in the
    v_bits range, keeps the sign (or reaches 0), never grows, and leak(-v) = -leak(v); the
    integer and array forms agree."""
    lo, hi = int_range(v_bits)
    top = v_bits - 1 if kind == "shift" else hi
    amount = data.draw(st.one_of(st.sampled_from([1, top]), st.integers(1, top)))
    leak = Leak(kind, amount)
    v = data.draw(st.one_of(st.sampled_from([lo, lo + 1, -1, 0, 1, hi]), st.integers(lo, hi)))
    out = leak.apply(v)
    assert lo <= out <= hi and abs(out) <= abs(v) and out * v >= 0
    if v > lo:
        assert leak.apply(-v) == -out
    if kind == "shift":
        assert out == v - int(v / (1 << amount)) if abs(v) < 2**52 else True
        assert abs(v) < (1 << amount) or out != v or v == 0
    else:
        assert out == (0 if abs(v) <= amount else v - amount * (1 if v > 0 else -1))
    if v_bits <= 63:
        assert int(leak.apply(np.array([v], dtype=np.int64))[0]) == out


def test_leak_validation_names_layer_field_value_and_range() -> None:
    w = np.ones((1, 1), np.int64)
    with pytest.raises(NetworkError, match=r"layer 'l': leak shift = 8 must be in \[1, 7\] "
                                           r"for v_bits = 8"):
        Linear(name="l", weight=w, w_bits=2, v_bits=8, threshold=1, leak=Leak("shift", 8))
    with pytest.raises(NetworkError, match=r"layer 'l': leak constant = 128 must be in "
                                           r"\[1, 127\] for v_bits = 8"):
        Linear(name="l", weight=w, w_bits=2, v_bits=8, threshold=1, leak=Leak("constant", 128))
    with pytest.raises(NetworkError, match="leak kind 'exponential': use one of shift, "
                                           "constant"):
        Leak("exponential", 3)
    with pytest.raises(NetworkError, match="leak shift = 0 must be an integer >= 1"):
        Leak("shift", 0)
    with pytest.raises(NetworkError, match="must be a Leak"):
        Linear(name="l", weight=w, w_bits=2, v_bits=8, threshold=1, leak=3)  # type: ignore


def _leaky() -> IntNetwork:
    net = _tiny()
    conv, pool, flat, fc = net.layers
    import dataclasses

    return dataclasses.replace(net, layers=(dataclasses.replace(conv, leak=Leak("shift", 2)),
                                            pool, flat,
                                            dataclasses.replace(fc, leak=Leak("constant", 5))))


def test_leaky_network_file_is_version_2_and_if_stays_version_1(tmp_path: Path) -> None:
    """A leak is recorded per layer and needs version 2; a network without one is written as
    version 1 exactly as before (no 'leak' key), so older releases still read it."""
    leaky, plain = _leaky(), _tiny()
    save_network(leaky, tmp_path / "lif.npz")
    back = load_network(tmp_path / "lif.npz")
    assert_same_network(leaky, back)
    assert [la.leak for la in back.spiking_layers] == [Leak("shift", 2), Leak("constant", 5)]
    header = network_header(leaky)
    assert header["version"] == 2 == NETWORK_VERSION
    assert header["layers"][0]["leak"] == {"kind": "shift", "amount": 2}
    plain_header = network_header(plain)
    assert plain_header["version"] == 1
    assert all("leak" not in entry for entry in plain_header["layers"])
    save_network(plain, tmp_path / "if.npz")
    assert all(la.leak is None for la in load_network(tmp_path / "if.npz").spiking_layers)


def test_shipped_version_1_network_loads_unchanged() -> None:
    """The model shipped before the leak existed (a version 1 file) loads as IF."""
    from importlib.resources import files

    path = files("flexspim") / "assets" / "digits_net.npz"
    with np.load(str(path)) as npz:
        assert json.loads(str(npz["header"]))["version"] == 1
    assert all(la.leak is None for la in load_network(str(path)).spiking_layers)


@pytest.mark.parametrize("leak, pattern", [
    ({"kind": "shift"}, "field 'leak'"), ("shift", "field 'leak'"),
    ({"kind": "sigmoid", "amount": 2}, "leak kind 'sigmoid'"),
    ({"kind": "shift", "amount": 99}, r"leak shift = 99 must be in \[1, 4\]"),
    ({"kind": "shift", "amount": 2.5}, "must be an integer"),
])
def test_malformed_leak_in_a_file_is_one_line(tmp_path: Path, leak: object,
                                               pattern: str) -> None:
    header = network_header(_tiny())
    header["layers"][0]["leak"] = leak
    with pytest.raises((FormatError, NetworkError), match=pattern) as err:
        load_network(_rewrite_header(tmp_path, {"layers": header["layers"], "version": 2}))
    assert "layer 'c'" in str(err.value) and "\n" not in str(err.value)
