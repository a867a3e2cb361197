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
from flexspim._io import (
    WRITER_KEY,
    check_versioned,
    read_json,
    read_versioned_json,
    stamped,
    write_json,
)
from flexspim.compile import compile_network, load_mapping, save_mapping
from flexspim.errors import ConfigError, FlexspimError, FormatError
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


# ----------------------------------------------------------------------------- one version check

def _json_file(path: Path, doc: dict) -> Path:
    path.write_text(json.dumps(doc))
    return path


def _npz_header(path: Path, doc: dict) -> Path:
    np.savez(path, header=np.array(json.dumps(doc)))
    return path


def _store(path: Path, doc: dict) -> Path:
    from flexspim.dse.store import open_store

    with open_store(path):
        pass
    with sqlite3.connect(path) as db:
        db.executemany("UPDATE meta SET value = ? WHERE key = ?",
                       [(str(doc["format"]), "format"), (str(doc["version"]), "version")])
    db.close()
    return path


def _table(path: Path, doc: dict) -> Path:
    path.write_text(f"table_format,table_version,table,v\n{doc['format']},{doc['version']},run,1\n")
    return path


def _checkpoint(path: Path, doc: dict) -> Path:
    torch = pytest.importorskip("torch")
    torch.save(doc, path)
    return path


def _load_record(path: Path) -> object:
    from flexspim.net.record import record_beside

    path.with_suffix(".npz").write_bytes(b"a network")
    return record_beside(path.with_suffix(".npz"))


def _load_checkpoint(path: Path) -> object:
    from flexspim.train.loop import load_checkpoint

    return load_checkpoint(path)


def _load_frames(path: Path) -> object:
    pytest.importorskip("torch")  # flexspim.train
    from flexspim.train.frames import load_frames_file

    return load_frames_file(path)


def _load_summary(path: Path) -> object:
    pytest.importorskip("torch")
    from flexspim.train.record import load_summary

    return load_summary(path)


def _load_event_store(path: Path) -> object:
    pytest.importorskip("torch")
    from flexspim.train.prepare import open_event_store

    return open_event_store(path.parent)


def _load_table(path: Path) -> object:
    pytest.importorskip("pandas")
    from flexspim.results import load

    return load(path)


def _load_store(path: Path) -> object:
    from flexspim.dse.store import open_store

    with open_store(path) as store:
        return store.keys()


def _load_sweep(path: Path) -> object:
    from flexspim.dse import load_sweep

    return load_sweep(path)


def _load_run(path: Path) -> object:
    from flexspim.report import load_run

    return load_run(path)


def _load_result(path: Path) -> object:
    from flexspim.sim import load_result

    return load_result(path)


#: Every versioned format flexspim reads: its name, the file it is read from, how a file with a
#: given header is written, and the reader.
FORMATS = {
    "flexspim-network": ("n.npz", _npz_header, load_network),
    "flexspim-model-record": ("n.json", _json_file, _load_record),
    "flexspim-mapping": ("m.json", _json_file, load_mapping),
    "flexspim-sim-result": ("r.json", _json_file, _load_result),
    "flexspim-run": ("run.json", _json_file, _load_run),
    "flexspim-hardware": ("hw.yaml", lambda p, d: (p.write_text(yaml.safe_dump(d)), p)[1],
                          load_hardware),
    "flexspim-sweep": ("s.yaml", lambda p, d: (p.write_text(yaml.safe_dump(d)), p)[1],
                       _load_sweep),
    "flexspim-sweep-store": ("s.sqlite", _store, _load_store),
    "flexspim-checkpoint": ("c.pt", _checkpoint, _load_checkpoint),
    "flexspim-frames": ("f.npz", _npz_header, _load_frames),
    "flexspim-table": ("t.csv", _table, _load_table),
    "flexspim-train-summary": ("summary.json", _json_file, _load_summary),
    "flexspim-event-store": ("index.json", _json_file, _load_event_store),
}


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_another_version_is_one_line_naming_file_format_versions_and_fix(
        tmp_path: Path, fmt: str) -> None:
    """Every reader checks through flexspim._io.check_versioned: a file of another version gets
    one line with the file, the format, the version found and read, and how to fix it."""
    name, write, load = FORMATS[fmt]
    path = write(tmp_path / name, {"format": fmt, "version": 99})
    with pytest.raises(FlexspimError) as err:
        load(path)
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(str(path)), message
    assert f"{fmt} format version 99, this flexspim reads version" in message, message
    assert message.split("; ")[-1].strip(), message  # how to fix it


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_another_format_is_one_line_naming_what_the_file_holds(tmp_path: Path, fmt: str) -> None:
    name, write, load = FORMATS[fmt]
    path = write(tmp_path / name, {"format": "flexspim-other", "version": 1})
    if fmt == "flexspim-model-record":  # a JSON file of another kind beside a network: no record
        assert load(path) is None
        return
    with pytest.raises(FlexspimError) as err:
        load(path)
    message = str(err.value)
    assert "\n" not in message and message.startswith(str(path)), message
    assert f"holds a 'flexspim-other' document, expected '{fmt}'" in message, message


def test_check_versioned_reads_older_versions_and_names_a_missing_format() -> None:
    doc = {"format": "flexspim-x", "version": 1}
    assert check_versioned(doc, "flexspim-x", (1, 2), "x.json") is doc
    with pytest.raises(FormatError, match=r"x.json: flexspim-x format version 3, this flexspim "
                                          r"reads versions 1 and 2; re-create"):
        check_versioned({"format": "flexspim-x", "version": 3}, "flexspim-x", (1, 2), "x.json")
    with pytest.raises(FormatError, match=r"x.json: not a flexspim x file \(no 'format' field, "
                                          r"expected 'flexspim-x'\); check the path"):
        check_versioned({"version": 1}, "flexspim-x", 1, "x.json")
    with pytest.raises(ConfigError, match="version True"):  # a bool is no version
        check_versioned({"format": "flexspim-x", "version": True}, "flexspim-x", 1, "x.json",
                        error=ConfigError)
