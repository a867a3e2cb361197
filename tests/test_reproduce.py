"""`flexspim reproduce --quick`: every figure's files and the summary keys."""

from __future__ import annotations

import json

import pytest

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
from flexspim.reproduce.system import Fig7Grid

KEYS = ("stationary_operands_gain_hsmin_vs_ws", "stationary_operands_gain_optimal_vs_ws",
        "stationary_operands_gain_hsmin_vs_ws_partial", "max_system_saving_hs_vs_ws",
        "max_system_saving_optimal_vs_ws", "dram_bits_ws_16_macros",
        "latency_speedup_16_vs_1_macros", "analytic_vs_engine_max_rel_error",
        "pj_per_sop_8w16v_0v9", "pj_per_sop_8w16v_1v1", "energy_saving_optimal_vs_hsmin",
        "shape_spread_16b_32och_packed", "spidr_tops_per_w_4w7v")

#: A small Fig. 7 grid on the paper-scale workload (the real --quick grid runs minutes).
SMALL = Fig7Grid(macros=(1, 16), sparsities=(0.99,), buffers_kib=(256.0,),
                 extra=((0.0, 16),), samples=1)


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("reproduce")
    return out, reproduce(True, out, grid=SMALL)


def test_reproduce_writes_figures_and_keys(small_run) -> None:
    tmp_path, summary = small_run
    for key in KEYS:
        assert isinstance(summary[key], float), key
    assert summary["network"] == "paper_scale_scnn"
    assert summary["dram_bits_ws_16_macros"] > 0
    assert summary["latency_speedup_16_vs_1_macros"] > 1
    assert 0 <= summary["analytic_vs_engine_max_rel_error"] <= 0.02
    assert all(0.05 < d < 0.15 for d in summary["calibration"]["hidden_densities"])
    for stem in ("fig4_stationary_operands", "fig7a_shapes", "fig7bcd_system", "table1"):
        assert (tmp_path / f"{stem}.png").read_bytes()[:4] == b"\x89PNG"
        assert json.loads((tmp_path / f"{stem}.json").read_text())
    on_disk = json.loads((tmp_path / "summary.json").read_text())
    assert on_disk["max_system_saving_hs_vs_ws"] == summary["max_system_saving_hs_vs_ws"]
    grid = json.loads((tmp_path / "fig7bcd_system.json").read_text())["grid"]
    assert {(g["n_macros"], g["buffer_kib"]) for g in grid} == {(1, 256.0), (16, 256.0),
                                                                 (16, 0.0)}
    for g in grid:
        for p in ("ws", "hs-min", "optimal"):
            pt = g["policies"][p]
            assert pt["energy_uj"] > 0 and pt["latency_us"] > 0
            assert abs(pt["estimate_energy_uj"] / pt["energy_uj"] - 1) <= 0.02
    none16 = next(g for g in grid if g["buffer_kib"] == 0.0)
    assert none16["policies"]["ws"]["buffer_bits"] == 0   # no buffer: everything in DRAM


def test_reproduce_table_points_to_explanations(small_run) -> None:
    _, summary = small_run
    table = print_table(summary)
    assert "paper" in table and "model" in table
    marked = [line for line in table.splitlines() if line.endswith(" *")]
    assert marked, "the model differs from the paper somewhere (Fig. 7's 90%)"
    for key, where in EXPLAINED_IN.items():
        if differs(key, summary.get(key)):
            assert where in table, key
    for chip in OTHER_CHIPS:
        row = next(line for line in table.splitlines() if line.strip().startswith(chip.name))
        assert chip.source in row and f"{chip.pj_per_1bit_op:.4f}" in row


def test_an_interrupted_fig7_resumes_from_its_points(small_run, monkeypatch) -> None:
    """Every point is kept as it is computed: a second run executes nothing again."""
    from flexspim.reproduce import system as rs

    tmp_path, summary = small_run

    def boom(*a, **k):
        raise AssertionError("a kept point was computed again")

    monkeypatch.setattr(rs, "fig7_point", boom)
    again = reproduce(True, tmp_path, grid=SMALL)
    assert again["max_system_saving_hs_vs_ws"] == summary["max_system_saving_hs_vs_ws"]


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
    from flexspim.hw import default_hardware, load_preset

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


def test_printed_table_shows_both_spidr_numbers(small_run) -> None:
    _, summary = small_run
    table = print_table(summary)
    model = summary["spidr_tops_per_w_4w7v"]
    line = next(x for x in table.splitlines() if x.startswith("Table I SpiDR TOPS/W"))
    assert "5.00" in line and f"{model:.2f}" in line and line.endswith(" *")
    assert f"reported up to 5 TOPS/W at 95% input sparsity; model {model:.2f} TOPS/W" in table
    assert EXPLAINED_IN["spidr_tops_per_w_4w7v"] in table
    other = print_table({**summary, "hardware": "SpiDR"})
    assert other.splitlines()[0].startswith("paper: the FlexSpIM paper's values")


def test_reproduce_refuses_unknown_hardware_before_any_work(tmp_path, capsys) -> None:
    from flexspim.cli import main

    assert main(["reproduce", "--hw", "loihi", "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["flexspim: error: loihi: no such hardware file; check the path, or name a "
                   "preset: flexspim, spidr"]
    assert not (tmp_path / "r" / "summary.json").exists()
