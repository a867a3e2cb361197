"""Design-space sweeps: sweep-file validation, point expansion and keys, the SQLite store, Dask
runs with one and two workers, resume after an interruption, Pareto fronts, re-quantisation and
the mixed-precision search."""

from __future__ import annotations

import dataclasses
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flexspim.dse import (
    PointResult,
    Range,
    SweepPoint,
    expand_points,
    load_sweep,
    make_task,
    open_store,
    pareto_front,
    plot_pareto,
    requantise,
    run_sweep,
    sweep_from_dict,
)
from flexspim.dse.mixed import exhaustive_widths, greedy_proposals, search_mixed_precision
from flexspim.dse.networks import NetworkRef
from flexspim.dse.points import Task
from flexspim.dse.spec import MixedPrecisionSpec
from flexspim.errors import ConfigError, FlexspimError, FormatError
from flexspim.net import Linear
from flexspim.net.presets import dvs_gesture_scnn


def model_metrics(task: Task) -> dict[str, Any]:
    """A cheap stand-in evaluator: a deterministic function of the point (for the machinery)."""
    p = task.point
    n = p.n_macros or 2
    v = p.voltage or 0.9
    s = 0.9 if p.input_sparsity is None else p.input_sparsity
    if n == 3:
        raise ConfigError("rule 'fits': three macros do not fit (test point)")
    wb = p.w_bits if isinstance(p.w_bits, int) else 8
    return {"energy_per_inference_uj": (1.0 - s) * v * v * 10.0 / n + 0.1 * n,
            "latency_per_inference_us": 100.0 / n / v,
            "accuracy": 1.0 - 0.01 * abs(8 - wb) - 0.001 * n,
            "layer_w_bits": [wb], "layer_v_bits": [16]}


def grid_doc(**changes: Any) -> dict[str, Any]:
    doc = {"format": "flexspim-sweep", "version": 1, "name": "t",
           "space": {"n_macros": [1, 2, 3, 4], "voltage": [0.9, 1.0, 1.1],
                     "input_sparsity": [0.9, 0.99]}}
    doc.update(changes)
    return doc


@pytest.fixture(scope="module")
def client1():
    from flexspim.dse import dask_client

    with dask_client(workers=1) as c:
        yield c


# ----------------------------------------------------------------------------- the sweep file

def test_grid_expands_every_combination_in_order() -> None:
    spec = sweep_from_dict(grid_doc())
    pts = expand_points(spec)
    assert len(pts) == 4 * 3 * 2
    assert pts[0] == SweepPoint(n_macros=1, voltage=0.9, input_sparsity=0.9)
    assert pts[-1] == SweepPoint(n_macros=4, voltage=1.1, input_sparsity=0.99)
    assert len({make_task(spec, p).key for p in pts}) == len(pts)


def test_random_mode_is_seeded_and_distinct() -> None:
    doc = grid_doc(mode="random", n_points=10, seed=3,
                   space={"n_macros": {"low": 1, "high": 64}, "voltage": {"low": 0.9,
                                                                           "high": 1.1}})
    spec = sweep_from_dict(doc)
    assert isinstance(spec.space["n_macros"], Range) and spec.space["n_macros"].integer
    a, b = expand_points(spec), expand_points(sweep_from_dict(doc))
    assert a == b and len(set(a)) == 10
    assert all(1 <= p.n_macros <= 64 and 0.9 <= p.voltage <= 1.1 for p in a)
    c = expand_points(sweep_from_dict({**doc, "seed": 4}))
    assert c != a
    # a finite space smaller than n_points gives all its points
    small = sweep_from_dict(grid_doc(mode="random", n_points=50, space={"n_macros": [1, 2]}))
    assert sorted(p.n_macros for p in expand_points(small)) == [1, 2]


def test_keys_depend_on_everything_that_defines_a_point() -> None:
    spec = sweep_from_dict(grid_doc())
    p = SweepPoint(n_macros=2)
    k = make_task(spec, p).key
    assert k == make_task(sweep_from_dict(grid_doc()), p).key
    other_hw = dataclasses.replace(spec, hardware=spec.hardware.with_(voltage=1.0))
    assert make_task(other_hw, p).key != k
    assert make_task(dataclasses.replace(spec, n_timesteps=8), p).key != k
    assert make_task(spec, SweepPoint(n_macros=2, w_bits=(8, 8))).key != k
    # sample size matters only when simulating
    assert make_task(dataclasses.replace(spec, samples=5), p).key == k


@pytest.mark.parametrize("changes, match", [
    ({"spaec": {}}, "did you mean 'space'"),
    ({"space": {"n_macro": [2]}}, "did you mean 'n_macros'"),
    ({"version": 2}, "version 2"),
    ({"format": "other"}, "expected 'flexspim-sweep'"),
    ({"mode": "gird"}, "did you mean 'grid'"),
    ({"space": {"n_macros": [0]}}, r"space.n_macros\[0\] = 0 must be in"),
    ({"space": {"voltage": ["high"]}}, "must be a finite number"),
    ({"space": {"w_bits": [[8, 0]]}}, r"w_bits\[0\]\[1\]"),
    ({"space": {"n_macros": {"low": 1, "high": 4}}}, "only for mode: random"),
    ({"space": {"input_sparsity": [0.9]}, "evaluation": "simulate", "network": "dvs_gesture"},
     "dvs_gesture"),
    ({"network": "no/such/net.npz"}, "neither a built-in network"),
    ({"mixed_precision": {}}, "only read with 'mode: mixed_precision'"),
    ({"n_points": -1}, "'n_points' = -1"),
    ({"space": {"n_macros": list(range(1, 400)), "voltage": [0.9 + i / 1000 for i in range(
        300)]}}, "more than"),
])
def test_bad_sweep_files_raise_one_line(changes: dict[str, Any], match: str) -> None:
    with pytest.raises(FlexspimError, match=match) as exc:
        sweep_from_dict(grid_doc(**changes), "s.yaml")
    assert "\n" not in str(exc.value) and str(exc.value).startswith("s.yaml")


def test_load_sweep_reads_yaml_with_relative_paths(tmp_path: Path) -> None:
    from flexspim.hw import default_hardware, save_hardware

    save_hardware(default_hardware(voltage=1.0), tmp_path / "hw.yaml")
    (tmp_path / "s.yaml").write_text(
        "format: flexspim-sweep\nversion: 1\nhardware: hw.yaml\n"
        "space:\n  n_macros: [2, 4]\n  w_bits: [8, [8, 8, 8, 8, 8, 8, 6]]\n")
    spec = load_sweep(tmp_path / "s.yaml")
    assert spec.name == "s" and spec.hardware.voltage == 1.0
    assert spec.space["w_bits"] == (8, (8, 8, 8, 8, 8, 8, 6))
    (tmp_path / "bad.yaml").write_text("format: [unclosed\n")
    with pytest.raises(FormatError, match="not valid YAML at line"):
        load_sweep(tmp_path / "bad.yaml")
    with pytest.raises(ConfigError, match="no such sweep file"):
        load_sweep(tmp_path / "missing.yaml")


def test_a_sweep_names_a_hardware_preset(tmp_path: Path) -> None:
    from flexspim.hw import load_preset

    (tmp_path / "s.yaml").write_text("format: flexspim-sweep\nversion: 1\nhardware: spidr\n"
                                     "space:\n  n_macros: [2, 4]\n")
    assert load_sweep(tmp_path / "s.yaml").hardware == load_preset("spidr")
    (tmp_path / "spidr").write_text("voltage: 1.0\n")       # a file of that name wins
    with pytest.raises(ConfigError, match="unknown hardware file type"):
        load_sweep(tmp_path / "s.yaml")
    (tmp_path / "t.yaml").write_text("format: flexspim-sweep\nversion: 1\nhardware: spdr\n")
    with pytest.raises(ConfigError, match="spdr: no such hardware file.*flexspim, spidr"):
        load_sweep(tmp_path / "t.yaml")


# ----------------------------------------------------------------------------- the store

def test_store_writes_each_key_once_and_checks_its_format(tmp_path: Path) -> None:
    db = tmp_path / "s.sqlite"
    with open_store(db) as store:
        assert store.put("k1", "t", SweepPoint(n_macros=2), "ok", {"energy_per_inference_uj": 1})
        assert not store.put("k1", "t", SweepPoint(n_macros=3), "ok", {"x": 2})
        assert store.put("k2", "t", SweepPoint(w_bits=(4, 5)), "failed", error="why")
        assert len(store) == 2 and "k1" in store
    with open_store(db) as store:
        rows = store.results()
        assert [r.key for r in rows] == ["k1", "k2"]
        assert rows[0].point == SweepPoint(n_macros=2) and rows[1].point.w_bits == (4, 5)
        assert rows[1].error == "why" and rows[1].row()["error"] == "why"
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    con.execute("UPDATE meta SET value = '9' WHERE key = 'version'")
    con.commit()
    con.close()
    with pytest.raises(FormatError, match="version 9"):
        open_store(db).__enter__()
    (tmp_path / "junk.sqlite").write_bytes(b"not a database at all" * 100)
    with pytest.raises(FormatError, match="not a flexspim sweep store"):
        open_store(tmp_path / "junk.sqlite").__enter__()


# ----------------------------------------------------------------------------- running on Dask

def _final(path: Path) -> dict[str, tuple[str, dict[str, Any], str | None]]:
    with open_store(path) as store:
        return {r.key: (r.status, r.metrics, r.error) for r in store.results()}


def test_one_and_two_workers_give_the_same_results(tmp_path: Path, client1: Any) -> None:
    from flexspim.dse import dask_client

    spec = sweep_from_dict(grid_doc())
    one = run_sweep(spec, tmp_path / "one.sqlite", client=client1, evaluate=model_metrics,
                    progress=False)
    with dask_client(workers=2) as c2:
        two = run_sweep(spec, tmp_path / "two.sqlite", client=c2, evaluate=model_metrics,
                        progress=False)
    assert one.computed == two.computed == 24 and one.reused == 0
    assert one.failed == two.failed == 6  # the n_macros = 3 points, stored with their reason
    assert _final(tmp_path / "one.sqlite") == _final(tmp_path / "two.sqlite")
    assert [r.key for r in one.results] == [r.key for r in two.results]
    failed = [r for r in one.results if r.status == "failed"]
    assert all("three macros" in (r.error or "") for r in failed)
    again = run_sweep(spec, tmp_path / "one.sqlite", client=client1, evaluate=model_metrics,
                      progress=False)
    assert again.computed == 0 and again.reused == 24


def test_interrupted_sweep_resumes_without_loss_or_duplicates(tmp_path: Path,
                                                              client1: Any) -> None:
    spec = sweep_from_dict(grid_doc())
    full = tmp_path / "full.sqlite"
    run_sweep(spec, full, client=client1, evaluate=model_metrics, progress=False)

    class Stop(Exception):
        pass

    stored: list[str] = []

    def stop_after_7(r: PointResult) -> None:
        stored.append(r.key)
        if len(stored) == 7:
            raise Stop

    part = tmp_path / "part.sqlite"
    with pytest.raises(Stop):
        run_sweep(spec, part, client=client1, evaluate=model_metrics, progress=False,
                  on_stored=stop_after_7, max_in_flight=3)
    with open_store(part) as store:
        assert store.keys() == set(stored) and len(store) == 7
    resumed = run_sweep(spec, part, client=client1, evaluate=model_metrics, progress=False)
    assert resumed.reused == 7 and resumed.computed == 24 - 7
    assert _final(part) == _final(full)
    with open_store(part) as store:
        seqs = [r.seq for r in store.results()]
    assert seqs == list(range(1, 25))


def test_killed_sweep_process_resumes(tmp_path: Path, client1: Any) -> None:
    """SIGKILL a sweep in another process after some points are stored, then resume here."""
    import os
    import signal
    import subprocess
    import sys
    import time

    script = tmp_path / "run.py"
    script.write_text(
        "import sys, time\n"
        f"sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
        "from test_dse import grid_doc, model_metrics\n"
        "from flexspim.dse import run_sweep, sweep_from_dict\n"
        "def slow(task):\n    time.sleep(0.15)\n    return model_metrics(task)\n"
        "run_sweep(sweep_from_dict(grid_doc()), sys.argv[1], workers=1, evaluate=slow,\n"
        "          progress=False, max_in_flight=1)\n")
    store = tmp_path / "killed.sqlite"
    proc = subprocess.Popen([sys.executable, str(script), str(store)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        n = 0
        while time.monotonic() < deadline and proc.poll() is None:
            if store.exists():
                try:
                    with open_store(store) as s:
                        n = len(s)
                except FormatError:
                    n = 0
            if n >= 5:
                break
            time.sleep(0.05)
        assert proc.poll() is None, "the sweep ended before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    with open_store(store) as s:
        n_before = len(s)
    assert 5 <= n_before < 24
    spec = sweep_from_dict(grid_doc())
    resumed = run_sweep(spec, store, client=client1, evaluate=model_metrics, progress=False)
    assert resumed.reused == n_before and resumed.computed == 24 - n_before
    full = tmp_path / "full.sqlite"
    run_sweep(spec, full, client=client1, evaluate=model_metrics, progress=False)
    assert _final(store) == _final(full)


# ----------------------------------------------------------------------------- Pareto

def _pr(key: str, e: float, a: float | None, lat: float = 1.0, status: str = "ok"
        ) -> PointResult:
    return PointResult(key=key, sweep="t", point=SweepPoint(), status=status,
                       metrics={"energy_per_inference_uj": e, "accuracy": a,
                                "latency_per_inference_us": lat})


def test_pareto_front_keeps_exactly_the_non_dominated_points() -> None:
    rs = [_pr("a", 1.0, 0.80), _pr("b", 2.0, 0.90), _pr("c", 2.5, 0.85), _pr("d", 3.0, 0.95),
          _pr("e", 0.5, 0.5), _pr("f", 0.1, 0.99, status="failed"), _pr("g", 1.0, None)]
    front = pareto_front(rs, ["energy_per_inference_uj", "accuracy"])
    assert [r.key for r in front] == ["e", "a", "b", "d"]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.floats(0.01, 10), st.floats(0, 1)), min_size=1, max_size=12))
def test_pareto_front_property(vals: list[tuple[float, float]]) -> None:
    rs = [_pr(str(i), e, a) for i, (e, a) in enumerate(vals)]
    front = pareto_front(rs, ["energy_per_inference_uj", "accuracy"])
    keys = {r.key for r in front}
    assert front
    for r in rs:
        e, a = r.metrics["energy_per_inference_uj"], r.metrics["accuracy"]
        dominated = any(o.metrics["energy_per_inference_uj"] <= e and o.metrics["accuracy"] >= a
                        and (o.metrics["energy_per_inference_uj"], o.metrics["accuracy"])
                        != (e, a) for o in rs)
        assert (r.key in keys) == (not dominated)


def test_plot_pareto_writes_a_png(tmp_path: Path) -> None:
    rs = [_pr("a", 1.0, 0.80, 3.0), _pr("b", 2.0, 0.90, 1.0), _pr("c", 3.0, 0.85, 2.0)]
    fronts = plot_pareto(rs, tmp_path / "p.png")
    assert (tmp_path / "p.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert fronts["accuracy"] == ["a", "b"] and fronts["latency_per_inference_us"] == ["a", "b"]
    no_acc = [_pr("a", 1.0, None)]
    fronts = plot_pareto(no_acc, tmp_path / "q.png")  # no accuracy: no accuracy panel
    assert "accuracy" not in fronts and fronts["latency_per_inference_us"] == ["a"]


# ----------------------------------------------------------------------------- re-quantisation

def test_requantise_scales_weights_and_thresholds_together() -> None:
    net = dvs_gesture_scnn(w_bits=8, v_bits=16, seed=1)
    same = requantise(net, 8, 16)
    for a, b in zip(net.spiking_layers, same.spiking_layers, strict=True):
        assert np.array_equal(a.weight, b.weight) and a.threshold == b.threshold
    low = requantise(net, 4, 10)
    for a, b in zip(net.spiking_layers, low.spiking_layers, strict=True):
        assert b.w_bits == 4 and b.v_bits == 10
        expect = np.clip((a.weight + 8) >> 4, -8, 7)
        assert np.array_equal(b.weight, expect)
        assert b.threshold == max(1, min((a.threshold + 8) >> 4, 511))
    wide = requantise(low, 6, 16)
    assert all(np.array_equal(b.weight, a.weight * 4)
               for a, b in zip(low.spiking_layers, wide.spiking_layers, strict=True))
    with pytest.raises(ConfigError, match="w_bits = 8 > v_bits = 6"):
        requantise(net, 8, 6)
    with pytest.raises(ConfigError, match="7 spiking layers"):
        requantise(net, (8, 8), None)


def test_requantised_layers_keep_the_network_valid() -> None:
    net = dvs_gesture_scnn(w_bits=8, v_bits=16, seed=2)
    per_layer = requantise(net, (8, 7, 6, 5, 4, 3, 2), (16, 15, 14, 12, 10, 8, 6))
    assert [x.w_bits for x in per_layer.spiking_layers] == [8, 7, 6, 5, 4, 3, 2]
    assert isinstance(per_layer.layers[-1], Linear)


# ----------------------------------------------------------------------------- mixed precision

def test_greedy_proposals_and_exhaustive_space() -> None:
    mixed = MixedPrecisionSpec(w_bits=(2, 4, 8), v_bits=(8, 12, 16))
    props = greedy_proposals((8, 4), (16, 8), mixed)
    assert ((4, 4), (16, 8)) in props and ((8, 2), (16, 8)) in props
    assert ((8, 4), (12, 8)) in props
    assert all(w <= v for pw, pv in props for w, v in zip(pw, pv, strict=True))
    assert len(props) == 3  # layer 2's v cannot go below 8 (its candidates stop there)
    ex = exhaustive_widths(2, mixed)
    assert len(ex) == 9 * 9 and len(set(ex)) == 81


def _mixed_metrics(task: Task) -> dict[str, Any]:
    """Energy grows with the widths; accuracy drops when layer 0's weights go below 4 bits."""
    w = task.point.w_bits if isinstance(task.point.w_bits, tuple) else (8, 8)
    v = task.point.v_bits if isinstance(task.point.v_bits, tuple) else (16, 16)
    acc = 0.9 - (0.2 if w[0] < 4 else 0.0) - (0.1 if v[1] < 8 else 0.0)
    return {"energy_per_inference_uj": float(sum(w) + 0.5 * sum(v)), "accuracy": acc,
            "latency_per_inference_us": 1.0, "layer_w_bits": list(w), "layer_v_bits": list(v)}


def test_mixed_precision_search_finds_the_cheapest_feasible_widths(tmp_path: Path,
                                                                  client1: Any) -> None:
    spec = sweep_from_dict(grid_doc(space={}, mode="grid"))
    spec = dataclasses.replace(
        spec, mode="mixed_precision", evaluation="simulate",
        network=NetworkRef(kind="file", path="x", digest="d"),
        mixed=MixedPrecisionSpec(max_accuracy_loss=0.05, w_bits=(2, 3, 4, 6, 8),
                                 v_bits=(6, 8, 12, 16), search="greedy"))
    greedy = search_mixed_precision(spec, tmp_path / "g.sqlite", client=client1,
                                    evaluate=_mixed_metrics, progress=False)
    assert greedy.best.metrics["layer_w_bits"] == [4, 2]
    assert greedy.best.metrics["layer_v_bits"] == [6, 8]
    assert greedy.energy_saving > 0.5
    ex_spec = dataclasses.replace(spec, mixed=dataclasses.replace(spec.mixed, search="exhaustive"))
    ex = search_mixed_precision(ex_spec, tmp_path / "e.sqlite", client=client1,
                                evaluate=_mixed_metrics, progress=False)
    assert ex.best.metrics["energy_per_inference_uj"] == greedy.best.metrics[
        "energy_per_inference_uj"]
    again = search_mixed_precision(spec, tmp_path / "g.sqlite", client=client1,
                                   evaluate=_mixed_metrics, progress=False)
    assert again.outcome.computed == 0 and again.best.key == greedy.best.key


# ----------------------------------------------------------------------------- real evaluation

TINY_SWEEP = """format: flexspim-sweep
version: 1
name: tiny
network: dvs_gesture
n_timesteps: 4
space:
  n_macros: [2, 16]
  w_bits: [4, 8]
  v_bits: [3, 16]
  policy: [hs-min]
  input_sparsity: [0.9]
"""


def test_analytic_point_matches_the_cost_model(tmp_path: Path) -> None:
    from flexspim.compile import Activity, compile_network
    from flexspim.dse.evaluate import evaluate_task, point_hardware
    from flexspim.mapped import estimate_cost

    (tmp_path / "s.yaml").write_text(TINY_SWEEP)
    spec = load_sweep(tmp_path / "s.yaml")
    point = SweepPoint(n_macros=16, w_bits=4, v_bits=16, policy="hs-min", input_sparsity=0.9,
                       voltage=1.1)
    got = evaluate_task(make_task(spec, point))
    net = dvs_gesture_scnn(w_bits=4, v_bits=16, seed=0)
    hw = point_hardware(spec.hardware, point)
    assert hw.system.n_macros == 16 and hw.voltage == 1.1
    act = Activity.from_sparsity(net, input_sparsity=0.9, n_timesteps=4)
    mapping = compile_network(net, hw, policy="hs-min", activity=act)
    cost = estimate_cost(net, mapping, hw, act)
    assert got["energy_per_inference_uj"] == pytest.approx(cost.energy_per_inference_uj)
    assert got["latency_per_inference_us"] == pytest.approx(cost.latency_per_inference_us)
    assert got["stationary_fraction"] == pytest.approx(mapping.stationary_fraction)
    assert got["accuracy"] is None and got["layer_w_bits"] == [4] * 7


def test_cli_sweep_runs_stores_plots_and_resumes(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    from flexspim.cli import main

    (tmp_path / "s.yaml").write_text(TINY_SWEEP)
    store = tmp_path / "tiny.sqlite"
    argv = ["sweep", str(tmp_path / "s.yaml"), "--workers", "1", "--out", str(store),
            "--no-progress"]
    assert main(argv + ["--plot", str(tmp_path / "p.png"), "--csv", str(tmp_path / "p.csv")]) == 0
    out = capsys.readouterr().out
    assert "8 points (8 computed now, 0 from the store, 4 infeasible)" in out
    assert "w_bits = 4 > v_bits = 3" in out or "w_bits = 8 > v_bits = 3" in out
    assert "Pareto front" in out and (tmp_path / "p.png").exists()
    from flexspim.results import load

    tables = load(tmp_path / "p.csv")
    points, layers = tables["point"], tables["layer"]
    assert len(points) == 8 and set(points["status"]) == {"ok", "failed"}
    for col in ("n_macros", "buffer_kib", "w_bits", "v_bits", "policy", "voltage",
                "n_timesteps", "evaluation"):  # swept and fixed, never blank
        assert points[col].notna().all(), col
    ok_points = points[points["status"] == "ok"]
    assert ok_points["energy_macro_compute_pj_per_inference"].gt(0).all()
    assert len(layers) == 4 * 7 and set(layers["key"]) == set(ok_points["key"])  # 7 layers
    by_key = dict(zip(points["key"], points["w_bits"], strict=True))
    assert all(int(by_key[k]) == w for k, w in zip(layers["key"], layers["layer_w_bits"],
                                                   strict=True))
    with open_store(store) as s:
        ok = [r for r in s.results() if r.status == "ok"]
    assert len(ok) == 4 and all(r.metrics["energy_per_inference_uj"] > 0 for r in ok)
    e = {(r.point.n_macros, r.point.w_bits, r.point.v_bits): r.metrics["energy_per_inference_uj"]
         for r in ok}
    assert e[(2, 4, 16)] < e[(2, 8, 16)]  # narrower weights cost less
    assert main(argv) == 0
    assert "0 computed now, 8 from the store" in capsys.readouterr().out
