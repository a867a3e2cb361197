"""The run document and the HTML report: every section present, self-contained, sections
without data say so, bad documents give one-line FormatErrors, and the CLI writes the page."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import numpy as np
import pytest

from flexspim.cli import main
from flexspim.compile.mapping import LayerMapping, Mapping, Tile
from flexspim.errors import FlexspimError
from flexspim.hw import default_hardware
from flexspim.net import Conv2d, Flatten, IntNetwork, Linear
from flexspim.report import (
    RUN_FORMAT,
    SECTIONS,
    confusion_matrix,
    load_run,
    make_run_document,
    render_report,
    run_data,
    write_report,
)
from flexspim.sim import SimResult, simulate


def small_net() -> IntNetwork:
    rng = np.random.default_rng(0)
    return IntNetwork(input_shape=(2, 6, 6), layers=(
        Conv2d(name="conv1", weight=rng.integers(-3, 8, (4, 2, 3, 3)), w_bits=4, v_bits=8,
               threshold=6, padding=(1, 1)),
        Flatten(name="flatten"),
        Linear(name="fc", weight=rng.integers(-4, 8, (3, 144)), w_bits=4, v_bits=10,
               threshold=8),
    ), name="small")


@pytest.fixture(scope="module")
def sim() -> SimResult:
    rng = np.random.default_rng(1)
    spikes = (rng.random((5, 12, 2, 6, 6)) < 0.3).astype(np.int64)
    labels = rng.integers(0, 3, 12)
    return simulate(small_net(), spikes, labels=labels)


def small_mapping() -> Mapping:
    def lm(name: str, index: int, stationary: str, tiles: tuple[Tile, ...], groups: int,
           resident: int, n_w: int, n_n: int, wb: int, vb: int, group_lanes: int,
           memory_groups: int) -> LayerMapping:
        return LayerMapping(name=name, index=index, stationary=stationary, cols=vb,
                            weight_shape=(1, vb), membrane_shape=(1, vb), lanes=256 // vb,
                            n_weights=n_w, n_neurons=n_n, w_bits=wb, v_bits=vb, groups=groups,
                            rows_per_group=4, resident_groups=resident,
                            resident_bits=(n_w * wb if stationary == "weights" else n_n * vb)
                            * resident // groups, tiles=tiles,
                            home_macro=0, group_lanes=group_lanes, memory_groups=memory_groups)

    # conv1: 4 channels per row group (WS), membranes of 36 positions in memory; fc: 3 lanes
    # (OS), weights of 144 inputs in memory
    return Mapping(policy="hs-min", n_macros=2, rows=512, cols=256, scratch_rows=8, layers=(
        lm("conv1", 0, "weights", (Tile(0, 8, 16, 0, 32, 2),), 2, 2, 72, 144, 4, 8, 4, 36),
        lm("fc", 2, "membranes", (Tile(1, 8, 12, 0, 30, 1),), 1, 1, 432, 3, 4, 10, 3, 144),
    ), network="small")


def cost_doc() -> dict:
    return {"format": "flexspim-cost", "version": 1, "policy": "hs-min", "n_samples": 12,
            "n_timesteps": 5, "components": ["macro_compute", "buffer"],
            "per_layer_pj": {"conv1": {"macro_compute": 1200.0, "buffer": 240.0},
                             "fc": {"macro_compute": 120.0, "buffer": 24.0}},
            "total_pj": {"macro_compute": 1320.0, "buffer": 264.0}, "total_energy_pj": 1584.0,
            "energy_per_inference_uj": 1.32e-4, "latency_per_inference_us": 3.5,
            "latency_per_timestep_us": 0.7, "per_layer_latency_us": {"conv1": 3.0, "fc": 0.5},
            "source": "engine",
            "per_macro": [{"macro": 0, "energy_pj": {"macro_compute": 1200.0}, "busy_us": 3.0,
                           "utilisation": 0.857, "row_ops": 40.0},
                          {"macro": 1, "energy_pj": {"macro_compute": 120.0}, "busy_us": 0.5,
                           "utilisation": 0.143, "row_ops": 4.0}],
            # first inference: 1 timestep x 2 layers x 3 phases (init, integrate, fire)
            "timeline": {"layers": ["conv1", "fc"], "phases": ["init", "integrate", "fire"],
                         "phase_ns": [[[0.0, 2500.0, 500.0], [0.0, 400.0, 100.0]]],
                         "busy_ns": [[[[0.0, 0.0], [2500.0, 0.0], [500.0, 0.0]],
                                      [[0.0, 0.0], [0.0, 400.0], [0.0, 100.0]]]]}}


def test_full_report_has_every_section_and_embedded_figures(sim: SimResult,
                                                            tmp_path: Path) -> None:
    doc = make_run_document(sim, mapping=small_mapping(), cost=cost_doc(),
                            hardware=default_hardware(), extra={"note": {"k": 1}})
    assert doc["format"] == RUN_FORMAT and doc["version"] == 1
    path = tmp_path / "r.html"
    write_report(json.loads(json.dumps(doc)), path)
    text = path.read_text()
    for anchor, title, _ in SECTIONS:
        assert f'id="{anchor}"' in text and title in text
    assert 'class="missing"' not in text
    imgs = re.findall(r'src="data:image/png;base64,([^"]+)"', text)
    assert len(imgs) >= 5
    assert all(base64.b64decode(i)[:8] == b"\x89PNG\r\n\x1a\n" for i in imgs)
    assert "http://" not in text and "https://" not in text and "<script" not in text
    assert f"{100 * sim.accuracy:.2f} %" in text
    assert "WS (weights)" in text and "OS (membranes)" in text
    assert "paper" in text  # hardware parameters with their sources
    assert "<td>0.110</td>" in text  # macro compute per inference: 1320 pJ / 12 = 0.110 nJ
    assert "<td>0.120</td>" in text  # conv1 per inference: (1200 + 240) pJ / 12 samples
    words = re.sub(r'src="data:[^"]+"', "", text)
    assert "<td>macro compute</td>" in words and not re.search(r"\de[+-]\d", words)
    assert "Latency per layer" in text and "CostReport" not in text
    assert "<td>85.7 %</td>" in text and "<td>14.3 %</td>" in text  # per-macro utilisation


def test_bare_simulation_result_reports_missing_sections(sim: SimResult, tmp_path: Path) -> None:
    sim.save_json(tmp_path / "sim.json")
    run = load_run(tmp_path / "sim.json")
    assert run.mapping is None and run.cost is None and run.hardware is None
    text = render_report(run)
    # energy, latency, macros, occupancy, stationarity, hardware
    assert text.count('class="missing"') == 6
    assert "No mapping" in text and "No cost" in text and "No per-macro data" in text
    assert 'id="extra"' not in text  # nothing further attached: no empty section


def test_confusion_matrix_counts() -> None:
    cm = confusion_matrix(np.array([0, 1, 1, 2]), np.array([0, 1, 2, 2]), 3)
    assert cm.tolist() == [[1, 0, 0], [0, 1, 1], [0, 0, 1]]
    assert confusion_matrix(np.array([4]), np.array([0]), 2).shape == (5, 5)


def test_no_labels_says_so(sim: SimResult) -> None:
    d = sim.to_dict()
    d["labels"] = None
    text = render_report(run_data(d))
    assert "No labels in this result" in text


@pytest.mark.parametrize("mutate, match", [
    (lambda d: d.update(format="flexspim-other"), "not a simulation result or run document"),
    (lambda d: d.update(version=7), "version 7"),
    (lambda d: d.update(simulation=None), "no 'simulation' part"),
    (lambda d: d.update(bogus=1), "unknown run-document part 'bogus'"),
    (lambda d: d.update(cost={"energy_per_inference_uj": "lots"}), "must be a number"),
    (lambda d: d["simulation"].update(sops=[[1, 2]]), "'sops' has shape"),
    (lambda d: d.update(mapping={"format": "flexspim-mapping", "version": 1}), "mapping"),
    (lambda d: d.update(hardware={"voltage": 3.0}), "voltage"),
    (lambda d: d.update(extra=[1]), "'extra' must be an object"),
])
def test_bad_run_documents_raise_one_line(sim: SimResult, mutate, match: str) -> None:
    doc = json.loads(json.dumps(make_run_document(sim, mapping=small_mapping(), cost=cost_doc(),
                                                  hardware=default_hardware())))
    mutate(doc)
    with pytest.raises(FlexspimError, match=match) as exc:
        run_data(doc, "run.json")
    assert "\n" not in str(exc.value)


def test_cli_report(sim: SimResult, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "run.json"
    src.write_text(json.dumps(make_run_document(sim, cost=cost_doc())))
    assert main(["report", str(src)]) == 0
    assert (tmp_path / "run.html").read_text().startswith("<!DOCTYPE html>")
    assert main(["report", str(src), "--out", str(tmp_path / "x" / "y.html")]) == 0
    assert (tmp_path / "x" / "y.html").exists()
    capsys.readouterr()
    assert main(["report", str(tmp_path / "missing.json")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no such file" in err[0]


def test_summary_counts_spiking_layers_not_routing(sim: SimResult) -> None:
    """conv1 and fc spike; flatten only routes events: the summary counts 2 layers and the
    per-layer table says which is which. A result written before layer kinds were recorded
    says what its count holds."""
    html = render_report(run_data(make_run_document(sim)))
    assert "<td>spiking layers</td><td>2 (conv1, fc)</td>" in html
    assert "<td>routing layers</td><td>1 (flatten)</td>" in html
    assert "<td>layers</td>" not in html
    assert "<td>flatten</td><td>routing (flatten)</td>" in html
    old = sim.to_dict()
    old.pop("layer_kinds", None)
    html = render_report(run_data(old))
    assert "<td>layers</td><td>3 (spiking and routing; re-run the simulation to tell them " \
           "apart)</td>" in html


#: The further results that 'flexspim simulate --mapping' and 'flexspim demo' write.
SIMULATE_EXTRA = {"system_engine": {"mode": "fast", "estimate_energy_per_inference_uj": 13.9,
                                    "energy_rel": 0.0123, "latency_rel": -0.0456}}
DEMO_EXTRA = {
    "policies compared": [
        {"policy": "hs-min", "energy_per_inference_uj": 36.99, "latency_per_inference_us": 2883.0,
         "latency_per_timestep_us": 240.2, "stationary_fraction": 0.1531,
         "stationary_operands": 4906.0, "estimate_energy_per_inference_uj": 36.92,
         "estimate_vs_engine_energy": -0.001686, "estimate_vs_engine_latency": -0.1822,
         "compile_and_cost_s": 19.07}],
    "bit-exactness checks (hardware simulator vs integer reference)": {
        "predictions": True, "output_counts": True, "spikes": True, "sops": True,
        "bitlevel_vs_fast": True, "system_engine_hs-min_vs_fast": True,
        "system_engine_optimal_vs_fast": True, "system_bitlevel_vs_fast": True,
        "bit_exact": True},
    "accuracy": {"hardware": 0.975, "reference": 0.975},
}


def _keys(obj) -> set[str]:
    if isinstance(obj, dict):
        return set(obj) | {k for v in obj.values() for k in _keys(v)}
    if isinstance(obj, list):
        return {k for v in obj for k in _keys(v)}
    return set()


def test_further_results_are_labelled_in_words(sim: SimResult) -> None:
    """No raw document key (``energy_rel``, ``estimate_vs_engine_energy``, nor the same with
    spaces) is shown as a label; relative differences and fractions are percentages."""
    from flexspim.report.html import section_extra

    extra = {**SIMULATE_EXTRA, **DEMO_EXTRA}
    html = section_extra(run_data(make_run_document(sim, extra=extra)))
    cells = set(re.findall(r"<(?:h3|th|td)>([^<]*)</(?:h3|th|td)>", html))
    raw = {k for k in _keys(extra) if "_" in k} | {k.replace("_", " ") for k in _keys(extra)
                                                    if "_" in k}
    assert cells & raw == set()
    for words in ("analytic estimate against the executed run", "energy, estimate against run",
                  "+1.23 %", "-4.56 %", "-0.17 %", "15.3 %", "97.50 %",
                  "system engine on the hs-min mapping = fast engine", "every check above"):
        assert any(words in c for c in cells), words
