"""The HTML report rendered in headless Chromium: every figure decodes and shows, no section is
empty, no heading is a raw identifier; and the checks themselves fail on pages that break them.

The report comes from the command line end to end (compile, simulate --mapping --json, report).
Chromium is Debian's ``chromium`` (``.ci/run`` installs it and sets
``FLEXSPIM_BROWSER_TESTS=required``, so that CI never skips these tests).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from browser import chromium, inspect_page, screenshot

from flexspim.cli import main
from flexspim.net import Conv2d, Flatten, IntNetwork, Linear, save_network

#: A code identifier where a heading should have words: a dotted attribute path
#: (``CostReport.per_layer_latency_us``) anywhere, or a heading that is one snake_case key.
RAW_IDENTIFIER = re.compile(r"\b[A-Za-z]\w*\.[a-z]\w*_\w*|^\s*[a-z0-9]+(_[a-z0-9]+)+\s*$")


def page_problems(info: dict[str, Any]) -> list[str]:
    """Everything the browser shows that a reader would trip over, one line each."""
    problems = [f"image '{i['alt']}' did not load ({i['width']} x {i['height']} px)"
                for i in info["images"] if not i["complete"] or i["width"] == 0]
    problems += [f"section '{s['heading'] or s['id']}' is empty" for s in info["sections"]
                 if s["text"] == 0 and s["images"] == 0]
    problems += [f"heading '{h}' is a raw identifier" for h in info["headings"]
                 if RAW_IDENTIFIER.search(h)]
    return problems


def _network() -> IntNetwork:
    rng = np.random.default_rng(0)
    return IntNetwork(input_shape=(2, 8, 8), layers=(
        Conv2d(name="conv1", weight=rng.integers(-3, 8, (4, 2, 3, 3)), w_bits=4, v_bits=8,
               threshold=6, padding=(1, 1)),
        Flatten(name="flatten"),
        Linear(name="fc", weight=rng.integers(-4, 8, (3, 256)), w_bits=4, v_bits=10,
               threshold=8),
    ), name="browser_net")


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """report.html of a priced run, made by the command line."""
    chromium()  # skip (or, in CI, fail) before making anything when there is no browser
    d = tmp_path_factory.mktemp("browser")
    save_network(_network(), d / "net.npz")
    rng = np.random.default_rng(1)
    np.save(d / "spikes.npy", (rng.random((6, 10, 2, 8, 8)) < 0.3).astype(np.int64))
    (d / "labels.csv").write_text(",".join(str(v) for v in rng.integers(0, 3, 10)))
    assert main(["compile", str(d / "net.npz"), "--out", str(d / "map.json"),
                 "--time-bins", "6"]) == 0
    assert main(["simulate", str(d / "net.npz"), str(d / "spikes.npy"), "--labels",
                 str(d / "labels.csv"), "--mapping", str(d / "map.json"), "--json",
                 str(d / "run.json"), "--no-progress"]) == 0
    assert main(["report", str(d / "run.json"), "--out", str(d / "report.html")]) == 0
    return d / "report.html"


def test_report_renders_every_figure_and_section_in_chromium(report: Path) -> None:
    info = inspect_page(report)
    assert page_problems(info) == []
    assert len(info["images"]) >= 5  # confusion, layers, energy, occupancy, stationarity
    shown = {s["id"] for s in info["sections"]}
    assert {"summary", "accuracy", "layers", "energy", "latency", "occupancy",
            "stationarity", "hardware"} <= shown


def test_report_screenshot_is_drawn(report: Path, tmp_path: Path) -> None:
    from PIL import Image

    png = screenshot(report, tmp_path / "report.png", height=3000)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(png) as im:
        grey = np.asarray(im.convert("L"))
    assert grey.shape == (3000, 1200)
    assert (grey < 128).mean() > 0.01  # text and figures, not a blank page


@pytest.mark.parametrize("body, problem", [
    ('<section id="a"><h2>Energy</h2><img alt="plot" src="data:image/png;base64,AAAA">'
     "<p>x</p></section>", "image 'plot' did not load"),
    ('<section id="b"><h2>More</h2></section>', "section 'More' is empty"),
    ('<section id="c"><h2>Per layer (CostReport.per_layer_latency_us)</h2><p>1</p></section>',
     "is a raw identifier"),
    ('<section id="d"><h2>x</h2><h3>energy_per_inference_uj</h3><p>1</p></section>',
     "is a raw identifier"),
])
def test_the_browser_checks_catch_broken_pages(tmp_path: Path, body: str, problem: str) -> None:
    page = tmp_path / "bad.html"
    page.write_text(f"<!DOCTYPE html><html><body><h1>t</h1>{body}</body></html>")
    problems = page_problems(inspect_page(page))
    assert any(problem in p for p in problems), problems
