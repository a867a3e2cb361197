"""The commands around the system engine: ``flexspim simulate --mapping`` (fast and bit-level
modes, the run document's per-macro cost, the timeline figure, the estimate beside the run) and
``flexspim compile --activity/--stationary/--placement``; bad input gives one line and exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from flexspim.cli import main
from flexspim.compile import compile_network, load_mapping, save_mapping
from flexspim.energy.system import system_cost
from flexspim.hw import default_hardware
from flexspim.net import Conv2d, Flatten, IntNetwork, Linear, save_network
from flexspim.report import load_run
from flexspim.results import load as load_table
from flexspim.system import run_system


def small_net() -> IntNetwork:
    return IntNetwork(input_shape=(2, 6, 6), layers=(
        Conv2d(name="c1", weight=np.random.default_rng(1).integers(-8, 8, (4, 2, 3, 3)),
               w_bits=4, v_bits=10, threshold=6, padding=(1, 1)),
        Flatten(name="flat"),
        Linear(name="fc", weight=np.random.default_rng(2).integers(-8, 8, (3, 144)),
               w_bits=4, v_bits=10, threshold=5)), name="small")


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    net = small_net()
    save_network(net, tmp_path / "n.npz")
    save_mapping(compile_network(net, default_hardware(), policy="hs-min"), tmp_path / "m.json")
    x = (np.random.default_rng(3).random((5, 4, 2, 6, 6)) < 0.2).astype(np.int64)
    np.save(tmp_path / "x.npy", x)
    return {"net": tmp_path / "n.npz", "mapping": tmp_path / "m.json", "x": tmp_path / "x.npy",
            "dir": tmp_path}


def one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


def test_simulate_with_mapping_runs_the_system_engine(files, capsys) -> None:
    """The breakdown, the estimate beside the run, a run document with per-macro cost and the
    timeline, the figures; the cost equals the Python API's; the report reads the document."""
    d = files["dir"]
    code = main(["simulate", str(files["net"]), str(files["x"]), "--labels", "0,1,2,0",
                 "--mapping", str(files["mapping"]), "--json", str(d / "run.json"),
                 "--plot", str(d / "e.png"), "--timeline", str(d / "t.png"), "--no-progress"])
    out = capsys.readouterr().out
    assert code == 0 and "macro_compute" in out and "energy per inference" in out
    assert "system engine (fast): counts from the executed events" in out
    assert "analytic estimate for the measured activity" in out and "macro utilisation" in out
    assert (d / "e.png").read_bytes()[:8] == (d / "t.png").read_bytes()[:8] == \
        b"\x89PNG\r\n\x1a\n"
    doc = json.loads((d / "run.json").read_text())
    assert doc["format"] == "flexspim-run" and doc["mapping"]["policy"] == "hs-min"
    assert doc["simulation"]["engine"] == "system-fast"
    net, mapping, hw = small_net(), load_mapping(files["mapping"]), default_hardware()
    run = run_system(net, mapping, hw, np.load(files["x"]))
    expected = system_cost(run.counts, hw)
    assert doc["cost"]["energy_per_inference_uj"] == pytest.approx(
        expected.energy_per_inference_uj, rel=1e-12)
    assert doc["cost"]["source"] == "engine" and len(doc["cost"]["per_macro"]) == 2
    assert doc["cost"]["per_macro"] == json.loads(json.dumps(expected.per_macro))
    assert np.asarray(doc["cost"]["timeline"]["busy_ns"]).shape == (5, 2, 4, 2)  # T, L, P, M
    engine = doc["extra"]["system_engine"]
    assert engine["mode"] == "fast" and abs(engine["energy_rel"]) < 0.5
    assert load_run(d / "run.json").cost is not None
    assert main(["report", str(d / "run.json"), "--out", str(d / "r.html")]) == 0
    html = (d / "r.html").read_text()
    assert "Macros: utilisation and timeline" in html and "data:image/png;base64" in html


def test_simulate_bitlevel_engine_gives_the_fast_counts(files, capsys, tmp_path) -> None:
    """``--engine bitlevel`` runs every row operation through the macro model: the same
    results and the same cost; ``--timeline`` writes SVG by the file's extension."""
    net = IntNetwork(input_shape=(4,), layers=(
        Linear(name="fc", weight=np.arange(-6, 6).reshape(3, 4), w_bits=4, v_bits=6,
               threshold=3),), name="tiny")
    save_network(net, tmp_path / "tiny.npz")
    save_mapping(compile_network(net, default_hardware(), policy="os"), tmp_path / "tm.json")
    np.save(tmp_path / "tx.npy", (np.random.default_rng(0).random((3, 2, 4)) < 0.6)
            .astype(np.int64))
    docs = {}
    for mode in ("fast", "bitlevel"):
        assert main(["simulate", str(tmp_path / "tiny.npz"), str(tmp_path / "tx.npy"),
                     "--mapping", str(tmp_path / "tm.json"), "--engine", mode, "--json",
                     str(tmp_path / f"{mode}.json"), "--timeline",
                     str(tmp_path / f"{mode}.svg"), "--no-progress"]) == 0
        assert f"system engine ({mode})" in capsys.readouterr().out
        docs[mode] = json.loads((tmp_path / f"{mode}.json").read_text())
        svg = (tmp_path / f"{mode}.svg").read_text()
        assert svg.startswith("<?xml") and "<svg" in svg
    assert docs["bitlevel"]["simulation"]["engine"] == "system-bitlevel"
    for key in ("predictions", "output_counts", "sops", "output_spikes"):
        assert docs["bitlevel"]["simulation"][key] == docs["fast"]["simulation"][key]
    assert docs["bitlevel"]["cost"]["counts"] == docs["fast"]["cost"]["counts"]
    assert docs["bitlevel"]["cost"]["energy_per_inference_uj"] == \
        docs["fast"]["cost"]["energy_per_inference_uj"]


@pytest.mark.parametrize("option", ["--plot", "--timeline"])
def test_figures_of_the_system_need_a_mapping(tmp_path, capsys, option: str) -> None:
    code = main(["simulate", "n.npz", "x.npy", option, str(tmp_path / "e.png")])
    assert code == 2 and "--mapping" in one_line_error(capsys)


def test_simulate_refuses_another_networks_mapping_and_a_version_1_file(files, capsys) -> None:
    d = files["dir"]
    other = IntNetwork(input_shape=(2, 6, 6), layers=(
        Flatten(name="flat"),
        Linear(name="fc", weight=np.ones((3, 72), dtype=np.int64), w_bits=4, v_bits=10,
               threshold=5)), name="other")
    save_network(other, d / "other.npz")
    assert main(["simulate", str(d / "other.npz"), str(files["x"]), "--mapping",
                 str(files["mapping"])]) == 2
    err = one_line_error(capsys)
    assert "network-match" in err and f"flexspim compile {d / 'other.npz'}" in err
    doc = json.loads(files["mapping"].read_text())
    doc["version"] = 1
    (d / "v1.json").write_text(json.dumps(doc))
    assert main(["simulate", str(files["net"]), str(files["x"]), "--mapping",
                 str(d / "v1.json")]) == 2
    err = one_line_error(capsys)
    assert "v1.json" in err and "version 1" in err and "reads version 3" in err


def test_compile_for_a_measured_activity(files, capsys) -> None:
    d = files["dir"]
    assert main(["simulate", str(files["net"]), str(files["x"]), "--json",
                 str(d / "sim.json"), "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["compile", str(files["net"]), "--activity", str(d / "sim.json"), "--out",
                 str(d / "measured.json"), "--csv", str(d / "measured.csv")]) == 0
    out = capsys.readouterr().out
    assert f"activity (measured in {d / 'sim.json'})" in out
    # the table says what was compiled for: the measured 5 timesteps, no assumed sparsity
    layers = load_table(d / "measured.csv")["layer"]
    assert layers["n_timesteps"].eq(5).all() and "input_sparsity" not in layers.columns
    m = load_mapping(d / "measured.json")
    sim = json.loads((d / "sim.json").read_text())
    sim = sim.get("simulation", sim)
    per_sample = [sum(r) / sim["n_samples"] for r in sim["input_events"]]
    assert m.search["activity"].startswith(f"activity (measured in {d / 'sim.json'})")
    assert f"{per_sample[0]:.4g}" in m.search["activity"]
    # a run of another network: one line, exit 2, before compiling
    other = IntNetwork(input_shape=(4,), layers=(
        Linear(name="fc", weight=np.ones((3, 4), dtype=np.int64), w_bits=4, v_bits=8,
               threshold=1),), name="tiny")
    save_network(other, d / "tiny.npz")
    assert main(["compile", str(d / "tiny.npz"), "--activity", str(d / "sim.json"), "--out",
                 str(d / "bad.json")]) == 2
    err = one_line_error(capsys)
    assert "--activity" in err and "c1, flat, fc" in err and not (d / "bad.json").exists()


def test_compile_forces_stationarity_and_places_first_fit(files, capsys) -> None:
    d = files["dir"]
    assert main(["compile", str(files["net"]), "--policy", "ws", "--stationary", "c1=os",
                 "--placement", "first-fit", "--out", str(d / "forced.json")]) == 0
    m = load_mapping(d / "forced.json")
    assert [lm.stationary for lm in m.layers] == ["membranes", "weights"]
    assert m.search["forced"] == {"c1": "membranes"} and m.search["placement"] == "first-fit"
    # the small network fits one macro: first-fit leaves the second one empty
    assert {t.macro for lm in m.layers for t in lm.tiles} == {0}
    assert main(["compile", str(files["net"]), "--policy", "ws", "--out",
                 str(d / "balanced.json")]) == 0
    balanced = load_mapping(d / "balanced.json")
    assert {t.macro for lm in balanced.layers for t in lm.tiles} == {0, 1}
    assert [lm.stationary for lm in balanced.layers] == ["weights", "weights"]
    capsys.readouterr()
    for bad, says in (("c1=xs", "expected LAYER=ws or LAYER=os"),
                      ("conv9=os", "has no spiking layer 'conv9'")):
        assert main(["compile", str(files["net"]), "--stationary", bad, "--out",
                     str(d / "x.json")]) == 2
        assert says in one_line_error(capsys)


def test_compile_and_simulate_on_the_spidr_preset(files, capsys) -> None:
    """``--hw spidr`` on compile: the mapping records SpiDR and simulate prices it there without
    being told (another ``--hw`` is refused in one line); on SpiDR the same mapping's macro compute
    is the FlexSpIM run's times the node and supply scaling."""
    from flexspim.compile import load_mapping
    from flexspim.energy.ops import node_energy_ratio
    from flexspim.hw import default_hardware, load_preset
    from flexspim.mapped import run_mapped
    from flexspim.net import load_network

    d = files["dir"]
    assert main(["compile", str(files["net"]), "--hw", "spidr", "--out",
                 str(d / "spidr.mapping.json")]) == 0
    assert main(["simulate", str(files["net"]), str(files["x"]), "--mapping",
                 str(d / "spidr.mapping.json"), "--json", str(d / "spidr.json"),
                 "--no-progress"]) == 0
    capsys.readouterr()
    assert load_run(d / "spidr.json").hardware == load_preset("spidr")
    assert main(["simulate", str(files["net"]), str(files["x"]), "--mapping",
                 str(d / "spidr.mapping.json"), "--hw", "flexspim", "--no-progress"]) == 2
    assert "is not the hardware --mapping" in one_line_error(capsys)
    net, mapping = load_network(files["net"]), load_mapping(d / "spidr.mapping.json")
    x = np.load(files["x"]) if str(files["x"]).endswith(".npy") else None
    runs = {"spidr": run_mapped(net, mapping, x),
            "flexspim": run_mapped(net, mapping, x, hardware=default_hardware().with_(
                system=mapping.hardware.system))}
    spidr = load_preset("spidr")
    compute = {t: r.cost.total_pj["macro_compute"] for t, r in runs.items()}
    scale = node_energy_ratio("65", "LP45", 1.1) * (0.85 / 0.9) ** 1.177
    assert compute["spidr"] / compute["flexspim"] == pytest.approx(scale, rel=1e-4)
    assert runs["spidr"].cost.latency_per_inference_us < \
        runs["flexspim"].cost.latency_per_inference_us      # 200 MHz against 75.5 MHz
    assert spidr.clock_mhz == 200.0
