"""Results as tables: simulate and compile write CSV/Parquet, flexspim.results.load reads them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from flexspim.cli import main
from flexspim.errors import FormatError
from flexspim.net import Conv2d, Flatten, IntNetwork, Linear, save_network
from flexspim.results import load, run_rows, write_table
from flexspim.results.tables import find_macros


def tiny(tmp_path: Path) -> tuple[Path, Path]:
    rng = np.random.default_rng(0)
    common = dict(w_bits=4, v_bits=10, reset="zero")
    net = IntNetwork((2, 6, 6), (
        Conv2d("c1", rng.integers(-3, 4, size=(3, 2, 3, 3)), threshold=2, padding=(1, 1),
               **common),
        Flatten("flat"),
        Linear("fc", rng.integers(-3, 4, size=(4, 108)), threshold=2, **common)), name="tiny")
    save_network(net, tmp_path / "net.npz")
    np.save(tmp_path / "x.npy", (rng.random((5, 3, 2, 6, 6)) < 0.3).astype(np.int64))
    return tmp_path / "net.npz", tmp_path / "x.npy"


def test_simulate_tables_hold_samples_layers_components_macros(tmp_path: Path) -> None:
    net, x = tiny(tmp_path)
    assert main(["compile", str(net), "--macros", "2", "--out", str(tmp_path / "m.json"),
                 "--csv", str(tmp_path / "c.csv"), "--parquet", str(tmp_path / "c.parquet")]) == 0
    assert main(["simulate", str(net), str(x), "--labels", "0,1,2", "--mapping",
                 str(tmp_path / "m.json"), "--json", str(tmp_path / "run.json"),
                 "--csv", str(tmp_path / "s.csv"), "--parquet", str(tmp_path / "s.parquet")]) == 0
    doc = json.loads((tmp_path / "run.json").read_text())
    nb = doc["extra"]["neurobench"]
    assert nb["effective_acs"] > 0 and 0 < nb["activation_sparsity"] < 1
    csv_t, pq_t = load(tmp_path / "s.csv"), load(tmp_path / "s.parquet")
    assert set(csv_t) == {"run", "sample", "layer", "component", "macro"} == set(pq_t)
    for name in csv_t:
        assert list(csv_t[name].columns) == list(pq_t[name].columns)
        assert len(csv_t[name]) == len(pq_t[name])
    s, la, co, ma = csv_t["sample"], csv_t["layer"], csv_t["component"], csv_t["macro"]
    assert len(s) == 3 and list(s["label"]) == [0, 1, 2]
    assert list(s["sops"]) == [sum(r) for r in doc["simulation"]["sample_sops"]]
    assert list(la["layer"]) == ["c1", "flat", "fc"]
    assert la["energy_macro_compute_pj_per_inference"].dropna().gt(0).all()
    assert co["energy_pj"].sum() == pytest.approx(doc["cost"]["total_energy_pj"])
    assert len(ma) == 2 and list(ma["macro"]) == [0, 1]
    for frame in csv_t.values():  # every parameter in every row
        for col in ("network", "engine", "n_samples", "policy", "n_macros", "hw.voltage"):
            assert frame[col].notna().all(), col
    assert csv_t["run"]["neurobench.effective_acs"].iloc[0] == pytest.approx(nb["effective_acs"])
    assert main(["report", str(tmp_path / "run.json"), "--out", str(tmp_path / "r.html")]) == 0
    html = (tmp_path / "r.html").read_text()
    assert "NeuroBench metrics" in html and "effective ACs (synaptic operations)" in html
    comp = load(tmp_path / "c.csv")
    assert set(comp) == {"run", "layer", "component", "macro"}
    assert comp["layer"]["input_sparsity"].eq(0.95).all()
    assert len(comp["macro"]) == 2
    # the estimator's counts per layer and per macro (WorkCounts.to_dict()) sum to the same work
    assert comp["layer"]["counts.row_ops"].gt(0).all()
    assert comp["macro"]["row_ops"].sum() == pytest.approx(comp["layer"]["counts.row_ops"].sum())


def test_per_macro_rows_come_from_any_part_of_the_run_document() -> None:
    doc = {"simulation": {"network": "n", "engine": "fast", "n_samples": 1, "n_timesteps": 1,
                          "predictions": [0], "labels": None, "sample_sops": [[1]],
                          "sample_spikes": [[1]], "sample_input_events": [[1]],
                          "layer_names": ["fc"], "input_events": [[1]], "sops": [[1]],
                          "output_spikes": [[1]], "overflow_events": [[0]],
                          "membrane_min": [[0]], "membrane_max": [[1]]},
           "system": {"macros": [{"macro": 0, "utilisation": 0.5,
                                  "timeline": {"busy_us": 2.0}}]}}
    assert find_macros(doc)[0]["utilisation"] == 0.5
    rows = [r for r in run_rows(doc) if r["table"] == "macro"]
    assert rows == [{"table": "macro", "macro": 0, "utilisation": 0.5, "timeline.busy_us": 2.0,
                     "network": "n", "engine": "fast", "n_samples": 1, "n_timesteps": 1,
                     "policy": None, "n_macros": None}]


def test_load_refuses_other_files(tmp_path: Path) -> None:
    (tmp_path / "x.csv").write_text("a,b\n1,2\n")
    with pytest.raises(FormatError, match="not a flexspim table"):
        load(tmp_path / "x.csv")
    write_table([{"table": "run", "v": 1}], csv_path=tmp_path / "ok.csv")
    text = (tmp_path / "ok.csv").read_text().replace(",1,run", ",2,run")
    (tmp_path / "v2.csv").write_text(text)
    with pytest.raises(FormatError, match="version"):
        load(tmp_path / "v2.csv")
    with pytest.raises(FormatError, match="no such table file"):
        load(tmp_path / "missing.csv")
