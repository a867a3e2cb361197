"""`flexspim reproduce`: every figure's files and keys on a tiny plan, resuming from the store,
the rule sets, the plans' grids, the workload map's arithmetic, the doc's generated tables, and
`compile --compare`."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from pathlib import Path

import pytest
from test_plots import figure_problems, saved  # noqa: F401  (the fixture)

from flexspim.cli import main
from flexspim.compile import POLICIES
from flexspim.hw import default_hardware
from flexspim.reproduce import (
    EXPLAINED_IN,
    OTHER_CHIPS,
    PAPER,
    REPORTED,
    differs,
    print_table,
    reproduce,
    table1,
)
from flexspim.reproduce import points as rp
from flexspim.reproduce.fig7 import saving
from flexspim.reproduce.plan import (
    FULL,
    PLANS,
    QUICK,
    Fig7Grid,
    MapGrid,
    Plan,
    fig7_tasks,
    map_tasks,
)
from flexspim.reproduce.rules import (
    HEADLINE_RULES,
    RULE_SETS,
    best_realistic,
    realistic_names,
    rule_set,
)
from flexspim.reproduce.tables import (
    PLAN_BLOCKS,
    read_block,
    result_blocks,
    update_doc,
)
from flexspim.reproduce.workloads import PAPER_SCALE_NET, NetSpec, stationary_sets
from flexspim.reproduce.workmap import map_cells, map_keys

ROOT = Path(__file__).resolve().parents[1]
#: The smallest network of the paper-scale shape: input 16 x 16, base width 4.
TINY_NET = NetSpec("scnn", 16, 4)
#: A tiny plan: its workload map is Fig. 7's network at Fig. 7's points (computed once).
TINY = Plan("tiny", fig4_networks=(TINY_NET,),
            fig7=Fig7Grid(TINY_NET, macros=(1, 2), sparsities=(0.95,), buffers_kib=(256.0,),
                          extra=((0.99, 0.0, 2),)),
            workload_map=MapGrid(inputs=(16,), bases=(4,), macros=(1, 2)))
FIGURES = ("fig4_stationary_operands", "fig7a_shapes", "fig7bcd_system", "table1",
           "workload_map")


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("reproduce")
    return out, reproduce(True, out, plan=TINY, workers=2)


def test_every_figure_is_written_with_its_keys(tiny_run) -> None:
    out, summary = tiny_run
    for stem in FIGURES:
        doc = json.loads((out / f"{stem}.json").read_text())
        assert (doc["format"], doc["version"], doc["figure"]) == ("flexspim-reproduce", 2, stem)
    for name in ["fig4_stationary_operands", "fig7a_shapes", "fig7bcd_system", "table1",
                 *(Path(m).stem for m in summary["workload_map_figures"])]:
        assert (out / f"{name}.png").read_bytes()[:4] == b"\x89PNG", name
    assert summary["plan"] == "tiny" and summary["headline_rules"] == HEADLINE_RULES
    assert summary["best_realistic_rules"] in realistic_names()
    assert summary["workload_map_figures"] == [f"workload_map_{r}.png" for r in
                                               dict.fromkeys(("paper",
                                                              summary["best_realistic_rules"]))]
    for key in ("stationary_operands_gain_hsmin_vs_ws", "stationary_bits_gain_hsmin_vs_ws",
                "sop_weighted_fraction_gain_hsmin_vs_ws", "max_system_saving_hs_vs_ws",
                "max_system_saving_optimal_vs_ws", "max_system_saving_hstraffic_vs_ws",
                "max_system_saving_os_vs_ws", "analytic_vs_engine_max_rel_error",
                "latency_speedup_2_vs_1_macros", "dram_bits_ws_2_macros",
                "workload_map_max_saving_hs_vs_ws", "workload_map_max_saving_any",
                "pj_per_sop_8w16v_0v9", "spidr_tops_per_w_4w7v", "seconds"):
        assert isinstance(summary[key], float), key
    on_disk = json.loads((out / "summary.json").read_text())
    assert on_disk["max_system_saving_hs_vs_ws"] == summary["max_system_saving_hs_vs_ws"]
    assert summary["points"]["computed_now"] == summary["points"]["total"] > 0


def test_fig4_counts_every_policy_four_ways(tiny_run) -> None:
    out, summary = tiny_run
    doc = json.loads((out / "fig4_stationary_operands.json").read_text())
    (net,) = doc["networks"]
    assert net["network"] == "scnn_16x16_b4" and list(net["policies"]) == list(POLICIES)
    for p, c in net["policies"].items():
        assert c["operands_whole_layers"] <= c["operands_partial"] or p == "optimal"
        assert c["stationary_bits"] > 0 and 0 <= c["sop_weighted_resident_fraction"] <= 1
        assert c["estimated_energy_uj"] > 0 and set(c["per_layer"]) == {
            "conv1", "conv2", "conv3", "conv4", "conv5", "conv6", "fc"}
        # the SOP-weighted fraction is each layer's resident share weighted by its SOPs
        lay = c["per_layer"].values()
        weighted = sum(x["sops"] * x["resident_fraction"] for x in lay) / sum(
            x["sops"] for x in lay)
        assert c["sop_weighted_resident_fraction"] == pytest.approx(weighted)
    ws, hs = net["policies"]["ws"], net["policies"]["hs-min"]
    assert summary["stationary_operands_gain_hsmin_vs_ws"] == pytest.approx(
        hs["operands_whole_layers"] / ws["operands_whole_layers"] - 1)


def test_fig7_holds_every_policy_under_every_rule_set(tiny_run) -> None:
    out, summary = tiny_run
    doc = json.loads((out / "fig7bcd_system.json").read_text())
    assert {(r["input_sparsity"], r["buffer_kib"], r["n_macros"]) for r in doc["grid"]} == {
        (0.95, 256.0, 1), (0.95, 256.0, 2), (0.99, 0.0, 2)}
    for row in doc["grid"]:
        assert list(row["rules"]) == [r.name for r in RULE_SETS]
        for r, d in row["rules"].items():
            assert list(d["policies"]) == list(POLICIES), r
            e = {p: m["energy_uj"] for p, m in d["policies"].items()}
            assert all(v > 0 for v in e.values())
            assert d["saving_vs_ws"]["optimal"] == pytest.approx(1 - e["optimal"] / e["ws"])
    nobuf = next(r for r in doc["grid"] if r["buffer_kib"] == 0.0)
    assert nobuf["rules"]["paper"]["policies"]["ws"]["buffer_bits"] == 0
    best = summary["fig7_max_saving_vs_ws"]
    assert set(best) == {r.name for r in RULE_SETS}
    assert all(set(d) == set(POLICIES) - {"ws"} for d in best.values())
    assert summary["max_system_saving_optimal_vs_ws"] == best["paper"]["optimal"]["saving"]


def test_workload_map_reuses_fig7s_points(tiny_run) -> None:
    out, summary = tiny_run
    doc = json.loads((out / "workload_map.json").read_text())
    assert doc["grid"]["rules"] == list(dict.fromkeys(("paper", summary["best_realistic_rules"])))
    assert len(doc["cells"]) == 2 * len(doc["grid"]["rules"])
    con = sqlite3.connect(out / "points.sqlite")
    # calibration + Fig. 4's 10 compiles + Fig. 7's 3 x 15 runs; the map's runs are Fig. 7's
    assert con.execute("SELECT COUNT(*) FROM points").fetchone()[0] == 1 + 10 + 45


def test_a_run_resumes_from_its_store(tiny_run, monkeypatch) -> None:
    """Points kept in the store are not computed again; points lost (the run stopped before
    them) are computed once, and the figures come out the same."""
    out, first = tiny_run
    con = sqlite3.connect(out / "points.sqlite")
    keys = [k for (k,) in con.execute("SELECT key FROM points WHERE point LIKE '%\"run\"%' "
                                      "ORDER BY seq DESC LIMIT 3")]
    con.executemany("DELETE FROM points WHERE key = ?", [(k,) for k in keys])
    con.commit()
    con.close()
    again = reproduce(True, out, plan=TINY, workers=1)
    assert again["points"]["computed_now"] == 3
    for key in ("max_system_saving_hs_vs_ws", "fig7_max_saving_vs_ws",
                "workload_map_max_saving_vs_ws", "best_realistic_rules"):
        assert again[key] == first[key], key

    def boom(task):
        raise AssertionError(f"point {task.key} was computed again")

    monkeypatch.setitem(rp.EVALUATORS, "run", boom)
    monkeypatch.setitem(rp.EVALUATORS, "fig4", boom)
    monkeypatch.setitem(rp.EVALUATORS, "calibrate", boom)
    assert reproduce(True, out, plan=TINY)["points"]["computed_now"] == 0


def test_the_printed_table_shows_every_policy_and_rule_set(tiny_run) -> None:
    _, summary = tiny_run
    table = print_table(summary)
    for r in RULE_SETS:
        assert f"  {r.name} " in table
    assert "hs-min* vs ws" in table and "hs-traffic vs ws" in table
    assert "* hs-min: our reading of the paper's HS-min" in table
    for key, where in EXPLAINED_IN.items():
        if differs(key, summary.get(key)):
            assert where in table, key


def test_the_figures_are_readable(tiny_run, saved, tmp_path) -> None:  # noqa: F811
    out, _ = tiny_run
    import shutil

    shutil.copy(out / "points.sqlite", tmp_path / "points.sqlite")
    reproduce(True, tmp_path, plan=TINY)
    problems = [f"{i}: {p}" for i, fig in enumerate(saved) for p in figure_problems(fig)]
    assert len(saved) == 4 + 2 and problems == [], "\n".join(problems)


# ----------------------------------------------------------------------------- pieces


def test_rule_sets_are_data_and_the_paper_is_the_reference() -> None:
    paper = rule_set("paper")
    assert (paper.event_order, paper.scratch_slices, paper.realistic) == ("arrival", 1, False)
    hw = paper.apply(default_hardware())
    assert hw.system.controller.scratch_slices == 1
    assert hw.system.controller.event_order == "arrival"
    assert rule_set("target-auto").apply(hw).system.controller.event_order == "target"
    assert realistic_names() == ("arrival-auto", "target-auto")
    assert best_realistic({"paper": {"ws": 1.0}, "arrival-auto": {"ws": 5.0, "os": 3.0},
                           "target-auto": {"ws": 4.0, "os": None}}) == "arrival-auto"
    with pytest.raises(Exception, match="unknown rule set 'fast'"):
        rule_set("fast")


def test_a_points_key_follows_what_defines_it() -> None:
    hw = default_hardware()
    p = rp.Point("run", TINY_NET, (1, 2), 2, 256.0, 0.95, "ws", "paper")
    k = rp.point_key(p, hw)
    assert rp.point_key(dataclasses.replace(p), hw) == k
    for change in ({"rules": "target-auto"}, {"thresholds": (1, 3)}, {"n_macros": 3},
                   {"policy": "os"}, {"input_sparsity": 0.9}):
        assert rp.point_key(dataclasses.replace(p, **change), hw) != k, change
    assert rp.point_key(p, hw.with_(voltage=1.0)) != k
    cal = rp.Point("calibrate", TINY_NET)
    assert rp.point_key(cal, hw) == rp.point_key(cal, hw.with_(voltage=1.0))


def test_the_plans_grids() -> None:
    assert set(PLANS) == {"quick", "paper-scale", "full"}
    assert QUICK.fig7.network.name == "dvs_gesture_scnn"
    assert FULL.fig7.network == PAPER_SCALE_NET and PAPER_SCALE_NET.name == "paper_scale_scnn"
    assert len(FULL.workload_map.networks()) == 9 and FULL.workload_map.macros == (
        1, 2, 4, 8, 16, 32, 64)
    # the full map's paper-scale row is Fig. 7's network at Fig. 7's points: same keys
    thr = {n: (1,) * 7 for n in FULL.networks()}
    hw = default_hardware()
    tm = map_tasks(FULL, hw, thr, ("paper",))
    f7 = {t.key for t in fig7_tasks(FULL, hw, thr).values()}
    shared = [t.key for (h, b, _n, _r, _p), t in tm.items() if (h, b) == (128, 32)
              and t.key in f7]
    assert len(shared) == 6 * len(POLICIES)   # 1, 2, 4, 8, 16, 32 macros (not 64)


def test_paper_scale_net_is_the_preset_and_fig4s_network_is_about_two_macros() -> None:
    import numpy as np

    from flexspim.net.presets import paper_scale_scnn

    ours, preset = PAPER_SCALE_NET.build(), paper_scale_scnn()
    assert all(np.array_equal(a.weight, b.weight)
               for a, b in zip(ours.spiking_layers, preset.spiking_layers, strict=True))
    sets = stationary_sets(NetSpec("dvs_gesture_scnn", 32, 16))
    assert sets["hs_min_set_macros"] == pytest.approx(2.11, abs=0.01)
    assert stationary_sets(PAPER_SCALE_NET)["hs_min_set_macros"] == pytest.approx(13.9,
                                                                                  abs=0.05)


def test_workload_map_arithmetic_on_a_tiny_grid() -> None:
    """Savings against WS-only, the largest per rule set and policy, and the cells reaching
    the paper's 90%, from results made up by hand."""
    grid = MapGrid(inputs=(16,), bases=(4,), macros=(1, 2))
    plan = dataclasses.replace(TINY, workload_map=grid)
    tasks = map_tasks(plan, default_hardware(), {TINY_NET: (1,) * 7}, ("paper",))
    energy = {1: {"ws": 100.0, "os": 5.0, "hs-min": 50.0, "hs-traffic": 120.0, "optimal": 5.0},
              2: {"ws": 10.0, "os": 20.0, "hs-min": 8.0, "hs-traffic": 10.0, "optimal": None}}
    metrics = {t.key: {"energy_uj": energy[n][p], "estimate_rel_error": 0.01 * n,
                       "sop_weighted_resident_fraction": 0.5}
               for (_, _, n, _, p), t in tasks.items() if energy[n][p] is not None}
    errors = {t.key: "[capacity] does not fit" for (_, _, n, _, p), t in tasks.items()
              if energy[n][p] is None}
    cells = map_cells(grid, ("paper",), POLICIES, tasks, rp.Results(metrics, errors, 0))
    one = next(c for c in cells if c["n_macros"] == 1)
    assert one["saving_vs_ws"] == {"os": 0.95, "hs-min": 0.5, "hs-traffic": pytest.approx(-0.2),
                                   "optimal": 0.95}
    two = next(c for c in cells if c["n_macros"] == 2)
    assert two["saving_vs_ws"]["optimal"] is None and two["errors"] == {
        "optimal": "[capacity] does not fit"}
    keys = map_keys(cells, ("paper",), POLICIES)
    assert keys["workload_map_max_saving_vs_ws"]["paper"]["hs-min"] == {
        "saving": pytest.approx(0.5), "at": {"input_hw": 16, "base": 4, "n_macros": 1}}
    assert keys["workload_map_max_saving_vs_ws"]["paper"]["hs-traffic"]["saving"] == 0.0
    assert sorted(c["policy"] for c in keys["workload_map_cells_reaching_paper"]) == [
        "optimal", "os"]
    assert keys["workload_map_analytic_vs_engine_max_rel_error"] == pytest.approx(0.02)
    assert saving({"ws": 0.0, "os": 1.0}, "os") is None


def test_the_docs_plan_tables_are_the_codes() -> None:
    page = (ROOT / "docs" / "reproduce.md").read_text(encoding="utf-8")
    for name, make in PLAN_BLOCKS.items():
        assert read_block(page, name) == make(), f"docs/reproduce.md block '{name}' is stale"


def test_doc_blocks_are_rewritten_or_added(tiny_run, tmp_path) -> None:
    _, summary = tiny_run
    page = tmp_path / "page.md"
    page.write_text("# T\n\n<!-- reproduce:tiny:run -->\nold\n<!-- /reproduce:tiny:run -->\n\n"
                    "## Where the model differs from the paper, and why\n\nend\n")
    names = update_doc(page, result_blocks(summary))
    text = page.read_text()
    assert "old" not in text and names[0] == "tiny:run"
    assert read_block(text, "tiny:run").startswith("Run `tiny`")
    assert text.index("### Results of the `tiny` run") < text.index("## Where the model")
    for n in names:
        assert read_block(text, n) is not None, n
    update_doc(page, result_blocks(summary))
    assert page.read_text() == text   # a second rewrite changes nothing


def test_compile_compare_prints_every_policy_side_by_side(capsys, tmp_path) -> None:
    assert main(["compile", "dvs-gesture", "--compare"]) == 0
    out = capsys.readouterr().out.splitlines()
    head = next(i for i, line in enumerate(out) if line.startswith("every policy on 2 macro"))
    assert out[head + 1].split() == ["ws", "os", "hs-min*", "hs-traffic", "optimal"]
    rows = {line[:30].strip(): line[30:].split() for line in out[head + 2:]}
    assert len(rows["estimated energy (uJ)"]) == 5
    assert all(v.startswith(("W", "M")) or v.endswith("%") for v in rows["conv1"])
    assert out[-1].startswith("* hs-min: our reading of the paper's HS-min")
    assert not list(tmp_path.iterdir()) and not Path("out/dvs-gesture.mapping.json").exists()
    assert main(["compile", "dvs-gesture", "--compare", "--plot", str(tmp_path / "m.png")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["flexspim: error: --compare prints the policies side by side and writes no "
                   "mapping; leave out --plot, or compile one --policy"]


# ----------------------------------------------------------------------------- Table I


def test_table1_figures_are_the_sources_numbers_normalised() -> None:
    chips = {c.name: c for c in OTHER_CHIPS}
    impulse, spidr = chips["IMPULSE"], chips["SpiDR"]
    assert (impulse.technology_nm, impulse.tops_per_w, impulse.acc_bits, impulse.supply_v,
            impulse.clock_mhz) == (65, 0.99, 11, 0.85, 200.0)
    assert (spidr.technology_nm, spidr.tops_per_w, spidr.w_bits, spidr.acc_bits) == (65, 5.0, 4, 7)
    assert impulse.pj_per_1bit_op == pytest.approx(1 / 0.99 / 11)
    assert spidr.pj_per_1bit_op == pytest.approx(0.2 / 7)
    assert "doi:10.1109/LSSC.2021.3092727" in impulse.source and "2411.02854" in spidr.source


@pytest.mark.parametrize("key, model, expected", [
    ("max_system_saving_hs_vs_ws", 0.388, True), ("max_system_saving_hs_vs_ws", 0.88, False),
    ("workload_map_max_saving_hs_vs_ws", 0.5, True),
    ("shape_spread_16b_32och", 1.55, True), ("shape_spread_16b_32och", 0.20, False),
    ("pj_per_sop_8w16v_0v9", 5.62, False), ("stationary_operands_gain_optimal_vs_ws", 1.0, False),
])
def test_a_difference_is_a_miss_of_the_papers_value(key: str, model: float, expected: bool
                                                    ) -> None:
    assert differs(key, model) is expected
    assert key in PAPER or not expected


def test_table1_sets_our_spidr_figure_beside_its_reported_one(tmp_path) -> None:
    """SpiDR's row: its reported 5 TOPS/W and our model's figure on the spidr preset at 4-bit
    weights / 7-bit membranes, under each operation count its abstract leaves open."""
    from flexspim.energy.ops import pj_per_sop
    from flexspim.hw import load_preset

    res = table1(default_hardware(), tmp_path)
    names = [c["chip"] for c in res["chips"]]
    assert names.index("SpiDR (model)") == names.index("SpiDR") + 1
    row = res["spidr"]
    e = pj_per_sop(load_preset("spidr"), w_bits=4, v_bits=7)
    assert row["reported_tops_per_w"] == REPORTED["spidr_tops_per_w_4w7v"] == 5.0
    assert row["tops_per_w"] == pytest.approx(1 / e) == res["spidr_tops_per_w_4w7v"]
    assert row["tops_per_w_two_ops_per_sop"] == pytest.approx(2 / e)
    assert row["tops_per_w_skipped_counted"] == pytest.approx(20 / e)
    assert (row["technology_nm"], row["supply_v"], row["w_bits"], row["acc_bits"]) == (
        65, 0.85, 4, 7)
    doc = json.loads((tmp_path / "table1.json").read_text())
    assert doc["spidr"]["tops_per_w"] == pytest.approx(row["tops_per_w"])
    # the FlexSpIM rows stay on FlexSpIM whatever hardware the figures run on
    on_spidr = table1(load_preset("spidr"), tmp_path)
    assert on_spidr["pj_per_sop_8w16v_0v9"] == res["pj_per_sop_8w16v_0v9"]
    assert on_spidr["spidr"]["tops_per_w"] == row["tops_per_w"]


def test_printed_table_shows_both_spidr_numbers(tiny_run) -> None:
    _, summary = tiny_run
    table = print_table(summary)
    model = summary["spidr_tops_per_w_4w7v"]
    line = next(x for x in table.splitlines() if x.startswith("Table I SpiDR TOPS/W"))
    assert "5.00" in line and f"{model:.2f}" in line and line.endswith(" *")
    assert f"reported up to 5 TOPS/W at 95% input sparsity; model {model:.2f} TOPS/W" in table
    assert EXPLAINED_IN["spidr_tops_per_w_4w7v"] in table
    other = print_table({**summary, "hardware": "SpiDR"})
    assert other.splitlines()[0].startswith("paper: the FlexSpIM paper's values")


def test_reproduce_refuses_bad_options_before_any_work(tmp_path, capsys) -> None:
    out = tmp_path / "r"
    cases = [(["--hw", "loihi"], "loihi: no such hardware file; check the path, or name a "
                                 "preset: flexspim, spidr"),
             (["--quick", "--plan", "full"], "--quick and --plan full ask for two plans; give "
                                             "one"),
             (["--workers", "0"], "--workers 0: need at least one worker"),
             (["--doc", str(tmp_path / "no.md")], f"--doc {tmp_path / 'no.md'}: no such file; "
                                                  f"give the page whose tables to rewrite "
                                                  f"(docs/reproduce.md)")]
    for argv, message in cases:
        assert main(["reproduce", *argv, "--out", str(out)]) == 2, argv
        assert capsys.readouterr().err.strip().splitlines() == [f"flexspim: error: {message}"]
    assert not (out / "summary.json").exists()
