"""The shared file helpers: every versioned document records the flexspim release that wrote it
(``flexspim_version``, right after ``version``), and every reader accepts a file written by
another release as long as the format's own version matches."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest
import yaml

from flexspim import __version__
from flexspim._io import WRITER_KEY, read_json, read_versioned_json, stamped, write_json
from flexspim.compile import compile_network, load_mapping, save_mapping
from flexspim.hw import default_hardware, hardware_to_dict, load_hardware, save_hardware
from flexspim.net import load_network, save_network
from flexspim.net.io import network_header
from flexspim.net.presets import dvs_gesture_scnn

OTHER_RELEASE = "0.0.0-other"


def test_stamped_places_the_release_after_version_and_copies() -> None:
    doc = {"format": "flexspim-x", "version": 3, "a": 1, WRITER_KEY: OTHER_RELEASE}
    out = stamped(doc)
    assert list(out) == ["format", "version", WRITER_KEY, "a"]
    assert out[WRITER_KEY] == __version__
    assert doc[WRITER_KEY] == OTHER_RELEASE  # the caller's document is left alone


@pytest.mark.parametrize("doc", [{"a": 1}, {"format": "flexspim-x"}, [1, 2], "text", None])
def test_stamped_leaves_unversioned_values_alone(doc: object) -> None:
    assert stamped(doc) == doc


def test_write_json_stamps_versioned_documents_only(tmp_path: Path) -> None:
    write_json(tmp_path / "v.json", {"format": "flexspim-x", "version": 1, "a": [1, 2]})
    write_json(tmp_path / "plain.json", {"a": 1})
    assert read_versioned_json(tmp_path / "v.json", "flexspim-x", 1)[WRITER_KEY] == __version__
    assert read_json(tmp_path / "plain.json") == {"a": 1}


def _rewrite_json(path: Path, release: str) -> None:
    doc = json.loads(path.read_text())
    doc[WRITER_KEY] = release
    path.write_text(json.dumps(doc))


def test_network_header_records_the_release_and_any_release_is_read(tmp_path: Path) -> None:
    net = dvs_gesture_scnn()
    save_network(net, tmp_path / "n.npz")
    with np.load(tmp_path / "n.npz") as npz:
        header = json.loads(str(npz["header"]))
    assert header[WRITER_KEY] == __version__
    assert WRITER_KEY not in network_header(net)  # what the network computes: no release in it
    header[WRITER_KEY] = OTHER_RELEASE
    with np.load(tmp_path / "n.npz") as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays["header"] = np.array(json.dumps(header))
    np.savez_compressed(tmp_path / "old.npz", **arrays)
    assert load_network(tmp_path / "old.npz").name == net.name


def test_mapping_json_records_the_release_and_any_release_is_read(tmp_path: Path) -> None:
    net = dvs_gesture_scnn()
    mapping = compile_network(net, default_hardware(), policy="hs-min")
    save_mapping(mapping, tmp_path / "m.json")
    assert read_json(tmp_path / "m.json")[WRITER_KEY] == __version__
    assert WRITER_KEY not in mapping.to_dict()
    _rewrite_json(tmp_path / "m.json", OTHER_RELEASE)
    assert load_mapping(tmp_path / "m.json").to_dict() == mapping.to_dict()


@pytest.mark.parametrize("suffix", [".yaml", ".toml"])
def test_hardware_file_records_the_release_and_any_release_is_read(tmp_path: Path,
                                                                    suffix: str) -> None:
    hw = default_hardware(voltage=1.0)
    path = tmp_path / f"hw{suffix}"
    save_hardware(hw, path)
    text = path.read_text()
    assert f"{WRITER_KEY}" in text and __version__ in text
    assert WRITER_KEY not in hardware_to_dict(hw)  # sweep point keys hash this document
    path.write_text(text.replace(__version__, OTHER_RELEASE))
    assert load_hardware(path) == hw


def test_hardware_file_written_by_hand_needs_no_release(tmp_path: Path) -> None:
    path = tmp_path / "hw.yaml"
    path.write_text(yaml.safe_dump({"format": "flexspim-hardware", "version": 1}))
    assert load_hardware(path) == default_hardware()


def test_frames_header_records_the_release(tmp_path: Path) -> None:
    from flexspim.train.frames import frames_from_arrays, load_frames_file, save_frames

    x = np.zeros((3, 2, 2, 4, 4), dtype=np.int16)
    y = np.array([0, 1, 0])
    save_frames(tmp_path / "f.npz", frames_from_arrays(x, y, x, y, name="toy"))
    with np.load(tmp_path / "f.npz") as npz:
        assert json.loads(str(npz["header"]))[WRITER_KEY] == __version__
    assert load_frames_file(tmp_path / "f.npz").name == "toy"


def test_checkpoint_records_the_release(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    from flexspim.train.loop import CHECKPOINT_FORMAT, CHECKPOINT_VERSION, save_checkpoint

    doc = {"format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION, "epoch": 0}
    save_checkpoint(tmp_path / "c.pt", doc)
    back = torch.load(tmp_path / "c.pt", weights_only=True)
    assert back[WRITER_KEY] == __version__ and back["epoch"] == 0


def test_sweep_store_records_the_release_that_made_it(tmp_path: Path) -> None:
    from flexspim.dse.store import open_store

    with open_store(tmp_path / "s.sqlite"):
        pass
    with sqlite3.connect(tmp_path / "s.sqlite") as db:
        meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
    assert meta[WRITER_KEY] == __version__
    with open_store(tmp_path / "s.sqlite"):  # reopened: the meta check accepts it
        pass
