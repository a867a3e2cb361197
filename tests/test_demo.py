"""The end-to-end demo on the shipped digits model: results.json's keys and values, bit-exactness
against the integer reference, the policies' costs, the report; run through the CLI once on a
small subset of the test split."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flexspim.cli import main
from flexspim.compile import load_mapping
from flexspim.report import load_run


@pytest.fixture(scope="module")
def demo_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    code = main(["demo", "--samples", "24", "--out", str(out), "--no-progress"])
    assert code == 0
    return out


def test_results_json_holds_the_promised_keys(demo_out: Path) -> None:
    res = json.loads((demo_out / "results.json").read_text())
    assert res["format"] == "flexspim-demo-results" and res["version"] == 1
    for key in ("accuracy_hardware", "accuracy_reference", "bit_exact",
                "energy_per_inference_uj", "latency_per_inference_us", "policies"):
        assert key in res
    assert res["n_samples"] == 24
    assert res["bit_exact"] is True and all(res["checks"].values())
    assert res["accuracy_hardware"] == res["accuracy_reference"]
    assert 0.0 <= res["accuracy_hardware"] <= 1.0
    assert set(res["policies"]) == {"hs-min", "optimal"}
    for pol in res["policies"].values():
        assert pol["energy_per_inference_uj"] > 0 and pol["latency_per_inference_us"] > 0
        comps = pol["components_pj_per_inference"]
        assert comps and abs(sum(comps.values()) / 1e6 - pol["energy_per_inference_uj"]) <= \
            1e-6 * max(1.0, pol["energy_per_inference_uj"])
        assert 0.0 <= pol["stationary_fraction"] <= 1.0
    best = res["policy"]
    assert res["energy_per_inference_uj"] == min(
        p["energy_per_inference_uj"] for p in res["policies"].values())
    assert res["policies"][best]["energy_per_inference_uj"] == res["energy_per_inference_uj"]


def test_outputs_are_readable_and_consistent(demo_out: Path) -> None:
    for pol in ("hs-min", "optimal"):
        mapping = load_mapping(demo_out / f"mapping_{pol}.json")
        assert mapping.policy == pol
        run = load_run(demo_out / f"run_{pol}.json")
        assert run.mapping is not None and run.cost is not None and run.hardware is not None
        assert run.simulation.n_samples == 24
    html = (demo_out / "report.html").read_text()
    assert html.startswith("<!DOCTYPE html>") and "data:image/png;base64," in html
    assert "policies compared" in html and 'class="missing"' not in html


def test_demo_summary_is_printed(demo_out: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from flexspim.demo import format_summary

    res = json.loads((demo_out / "results.json").read_text())
    text = format_summary(res, demo_out)
    assert "bit-exact: True" in text and "hs-min" in text and "report.html" in text


def test_demo_prints_the_macro_characterisation_beside_the_paper(demo_out: Path) -> None:
    from flexspim.demo import format_summary

    res = json.loads((demo_out / "results.json").read_text())
    macro = res["macro"]
    assert abs(macro["pj_per_sop_8w16v_0v9"] / 5.7 - 1) <= 0.03
    assert abs(macro["pj_per_sop_8w16v_1v1"] / 7.2 - 1) <= 0.03
    text = format_summary(res, demo_out)
    line = next(x for x in text.splitlines() if "at 0.9 V (pJ)" in x)
    assert "5.7" in line and f"{macro['pj_per_sop_8w16v_0v9']:.2f}" in line


def test_without_torch_the_reference_is_skipped_and_said(monkeypatch: pytest.MonkeyPatch,
                                                          demo_out: Path) -> None:
    """An install without the torch extra (the wheel test's Python 3.12 and 3.13 venvs): the
    engines that need no torch are still compared, and the summary says what was skipped."""
    import sys

    from flexspim.demo import (
        REFERENCE_SKIPPED,
        _simulate_and_check,
        format_summary,
        load_test_split,
        reference_available,
    )
    from flexspim.dse.networks import shipped_model_path, shipped_time_bins
    from flexspim.net import load_network

    assert reference_available()
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now fails
    assert not reference_available()
    spikes, labels = load_test_split(shipped_time_bins(), samples=4)
    timings: dict[str, float] = {}
    result, checks, ref, n_bit = _simulate_and_check(
        load_network(shipped_model_path()), spikes, labels, True, False, timings)
    assert ref is None and checks == {"bitlevel_vs_fast": True} and n_bit == 1
    assert result.n_samples == 4 and "reference_s" in timings
    res = json.loads((demo_out / "results.json").read_text())
    assert res["integer_reference"] == "compared"
    assert "integer reference" not in format_summary(res, demo_out)
    res.update(integer_reference=REFERENCE_SKIPPED, accuracy_reference=None)
    text = format_summary(res, demo_out)
    assert "reference -" in text and "integer reference skipped: torch is not installed" in text


def test_the_demo_report_speaks_in_words(demo_out: Path) -> None:
    """The summary counts the 3 spiking layers (not pool and flatten); the further results are
    labelled in words, relative differences in percent."""
    import re

    html = (demo_out / "report.html").read_text()
    assert "<td>spiking layers</td><td>3 (conv1, conv2, fc)</td>" in html
    assert "<td>routing layers</td><td>3 (pool1, pool2, flatten)</td>" in html
    section = re.search(r'<section id="extra">(.*?)</section>', html, re.S).group(1)
    cells = re.findall(r"<(?:h3|th|td)>([^<]*)</(?:h3|th|td)>", section)
    assert [c for c in cells if "_" in c] == []
    for words in ("every check above", "energy, estimate against run",
                  "system engine on the optimal mapping = fast engine"):
        assert words in cells, words
    assert any(re.fullmatch(r"[-+]\d+\.\d\d %", c) for c in cells)
