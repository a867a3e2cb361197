"""``flexspim macro-sweep``: table, JSON, PNG, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flexspim.cli import main


def test_prints_paper_beside_model_and_writes_nothing(tmp_path: Path, monkeypatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["macro-sweep"]) == 0
    out = capsys.readouterr().out
    header = next(line for line in out.splitlines() if line.startswith("quantity"))
    assert "paper" in header and "model" in header
    assert "5.7" in out and "7.2" in out and "up to 4.3x" in out
    assert list(tmp_path.iterdir()) == []


def test_json_and_plot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    js, png = tmp_path / "out" / "sweep.json", tmp_path / "sweep.png"
    assert main(["macro-sweep", "--voltage", "1.0", "--json", str(js), "--plot", str(png)]) == 0
    doc = json.loads(js.read_text())
    assert doc["format"] == "flexspim-macro-sweep" and doc["version"] == 1
    for key in ("pj_per_sop_8w16v_0v9", "pj_per_sop_8w16v_1v1", "standby_saving",
                "max_gain_vs_rowwise", "shape_spread_16b_32och", "full_power_mw_0v9",
                "full_power_mw_1v1"):
        assert isinstance(doc[key], float)
    assert doc["voltage_v"] == 1.0
    assert 5.7 * 0.97 < doc["pj_per_sop_8w16v_0v9"] < 5.7 * 1.03
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "0.9 V" not in capsys.readouterr().out.splitlines()[0]


def test_voltage_outside_range_is_one_line_error(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["macro-sweep", "--voltage", "1.4"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("flexspim: error: --voltage 1.4") and "--" in err[-1]
    hw = tmp_path / "hw.yaml"
    hw.write_text("macro:\n  colums: 128\n")
    assert main(["macro-sweep", "--hardware", str(hw)]) == 2
    assert "did you mean 'cols'" in capsys.readouterr().err


def test_spidr_preset_by_name(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``--hw spidr``: the model at SpiDR's node and supply, no FlexSpIM figure beside it."""
    js = tmp_path / "spidr.json"
    assert main(["macro-sweep", "--hw", "spidr", "--json", str(js), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("SpiDR macro characterisation (bit-level model; tables at 0.85 V, "
                          "200.0 MHz)")
    assert "5.7" not in out and "up to 4.3x" not in out and "Table I" in out
    doc = json.loads(js.read_text())
    assert doc["chip"] == "SpiDR" and doc["paper"] == {} and doc["voltage_v"] == 0.85
    assert doc["pj_per_sop_8w16v_0v85"] > 0


def test_unknown_preset_is_one_line_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["macro-sweep", "--hw", "loihi"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["flexspim: error: loihi: no such hardware file; check the path, or name a "
                   "preset: flexspim, spidr"]
