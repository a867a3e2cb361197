"""`flexspim reproduce --quick`: every figure's files and the summary keys."""

from __future__ import annotations

import json

from flexspim.reproduce import print_table, reproduce

KEYS = ("stationary_gain_hsmin_vs_ws", "stationary_gain_optimal_vs_ws",
        "max_system_saving_hs_vs_ws", "max_system_saving_optimal_vs_ws",
        "pj_per_sop_8w16v_0v9", "pj_per_sop_8w16v_1v1", "energy_saving_optimal_vs_hsmin")


def test_reproduce_quick_writes_figures_and_keys(tmp_path) -> None:
    summary = reproduce(True, tmp_path)
    for key in KEYS:
        assert isinstance(summary[key], float), key
    assert summary["stationary_gain_hsmin_vs_ws"] > 0
    assert summary["stationary_gain_optimal_vs_ws"] >= summary["stationary_gain_hsmin_vs_ws"] \
        or summary["energy_saving_optimal_vs_hsmin"] >= 0
    assert 0 < summary["max_system_saving_hs_vs_ws"] < 1
    assert summary["max_system_saving_optimal_vs_ws"] >= summary["max_system_saving_hs_vs_ws"] \
        - 1e-9
    for stem in ("fig4_stationary_fraction", "fig7a_shapes", "fig7bcd_system", "table1"):
        assert (tmp_path / f"{stem}.png").read_bytes()[:4] == b"\x89PNG"
        assert json.loads((tmp_path / f"{stem}.json").read_text())
    on_disk = json.loads((tmp_path / "summary.json").read_text())
    assert on_disk["max_system_saving_hs_vs_ws"] == summary["max_system_saving_hs_vs_ws"]
    table = print_table(summary)
    assert "paper" in table and "model" in table
    grid = json.loads((tmp_path / "fig7bcd_system.json").read_text())["grid"]
    assert {g["n_macros"] for g in grid} >= {1, 16, 18, 32}
