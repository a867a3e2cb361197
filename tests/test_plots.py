"""Every figure flexspim draws is readable on its own: a title, labelled axes, series told apart
by marker or line style as well as colour, legends that list only what is drawn and cover no
data point, no empty panel. Figures are caught as the commands save them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")
from matplotlib.figure import Figure  # noqa: E402

from flexspim.cli import main  # noqa: E402
from flexspim.net import Conv2d, Flatten, IntNetwork, Linear, save_network  # noqa: E402


def _has_data(ax: Any) -> bool:
    return bool(ax.lines or ax.patches or ax.collections or ax.images)


def _label_of(ax: Any, which: str) -> bool:
    """Whether ``ax`` or an axes sharing that axis with it carries a label."""
    group = ax.get_shared_x_axes() if which == "x" else ax.get_shared_y_axes()
    return any((s.get_xlabel() if which == "x" else s.get_ylabel()).strip()
               for s in group.get_siblings(ax))


def _points_px(ax: Any) -> np.ndarray:
    """Display coordinates of every data point of lines and scatters in ``ax``."""
    pts = [ln.get_xydata() for ln in ax.lines if ln.get_marker() not in (None, "None", "")]
    pts += [c.get_offsets() for c in ax.collections if len(c.get_offsets())]
    if not pts:
        return np.zeros((0, 2))
    return ax.transData.transform(np.concatenate([np.asarray(p, float) for p in pts]))


def figure_problems(fig: Figure) -> list[str]:
    """What keeps a reader from understanding ``fig`` without its caption, one line each."""
    fig.canvas.draw()
    out: list[str] = []
    title = fig._suptitle.get_text() if fig._suptitle is not None else ""
    axes = [ax for ax in fig.get_axes() if ax.axison and ax.get_label() != "<colorbar>"]
    if not getattr(fig, "saved_tight", True):  # a legend beside the panels must be in the file
        for legend in fig.legends:
            box = legend.get_window_extent()
            if not (fig.bbox.x0 <= box.x0 and box.x1 <= fig.bbox.x1 and fig.bbox.y0 <= box.y0
                    and box.y1 <= fig.bbox.y1):
                out.append("a figure legend lies outside the saved area")
    for i, ax in enumerate(axes):
        name = ax.get_title() or f"panel {i}"
        if not _has_data(ax):
            out.append(f"{name}: empty panel")
            continue
        if not (ax.get_title().strip() or title.strip()):
            out.append(f"panel {i}: no title")
        for which in ("x", "y"):
            if not _label_of(ax, which):
                out.append(f"{name}: no {which} label")
        styled = [(ln.get_marker(), str(ln.get_linestyle())) for ln in ax.lines
                  if ln.get_marker() not in (None, "None", "")]
        if len(set(styled)) < len(styled):
            out.append(f"{name}: series share a marker and line style")
        legend = ax.get_legend()
        if legend is not None:
            drawn = {a.get_label() for a in (*ax.lines, *ax.patches, *ax.collections,
                                             *ax.containers)}
            texts = [t.get_text() for t in legend.get_texts()]
            if any(not t for t in texts):
                out.append(f"{name}: empty legend entry")
            if ax.get_legend_handles_labels()[0] and not set(texts) <= drawn:
                out.append(f"{name}: legend lists {set(texts) - drawn}, which is not drawn")
            box = legend.get_window_extent()
            covered = [p for p in _points_px(ax) if box.contains(*p)]
            if covered:
                out.append(f"{name}: legend covers {len(covered)} data point(s)")
    return out


@pytest.fixture()
def saved(monkeypatch: pytest.MonkeyPatch) -> list[Figure]:
    """Every figure saved while the test runs (the file is still written)."""
    figures: list[Figure] = []
    original = Figure.savefig

    def record(self: Figure, *args: Any, **kwargs: Any) -> Any:
        self.saved_tight = kwargs.get("bbox_inches") == "tight"  # type: ignore[attr-defined]
        figures.append(self)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", record)
    return figures


def _net() -> IntNetwork:
    rng = np.random.default_rng(0)
    return IntNetwork(input_shape=(2, 8, 8), layers=(
        Conv2d(name="conv1", weight=rng.integers(-3, 8, (4, 2, 3, 3)), w_bits=4, v_bits=8,
               threshold=6, padding=(1, 1)),
        Flatten(name="flatten"),
        Linear(name="fc", weight=rng.integers(-4, 8, (3, 256)), w_bits=4, v_bits=10,
               threshold=8),
    ), name="tiny")


def test_command_figures_are_readable(tmp_path: Path, saved: list[Figure]) -> None:
    save_network(_net(), tmp_path / "net.npz")
    rng = np.random.default_rng(1)
    np.save(tmp_path / "x.npy", (rng.random((4, 6, 2, 8, 8)) < 0.3).astype(np.int64))
    (tmp_path / "y.csv").write_text(",".join(str(v) for v in rng.integers(0, 3, 6)))
    sweep = tmp_path / "s.yaml"
    sweep.write_text("format: flexspim-sweep\nversion: 1\nn_timesteps: 4\nspace:\n"
                     "  n_macros: [2, 4]\n  policy: [ws, hs-min]\n  voltage: [0.9, 1.1]\n")
    runs = [
        ["compile", "dvs-gesture", "--n-macros", "6", "--out", str(tmp_path / "g.json"),
         "--plot", str(tmp_path / "g.png")],
        ["compile", str(tmp_path / "net.npz"), "--out", str(tmp_path / "m.json"),
         "--time-bins", "4", "--plot", str(tmp_path / "m.svg")],
        ["simulate", str(tmp_path / "net.npz"), str(tmp_path / "x.npy"), "--labels",
         str(tmp_path / "y.csv"), "--mapping", str(tmp_path / "m.json"), "--json",
         str(tmp_path / "run.json"), "--plot", str(tmp_path / "e.pdf"), "--no-progress"],
        ["macro-sweep", "--no-progress", "--plot", str(tmp_path / "macro.png")],
        ["sweep", str(sweep), "--out", str(tmp_path / "s.sqlite"), "--workers", "1",
         "--no-progress", "--plot", str(tmp_path / "sweep.png")],
        ["report", str(tmp_path / "run.json"), "--out", str(tmp_path / "r.html")],
    ]
    for argv in runs:
        n = len(saved)
        assert main(argv) == 0, argv
        assert len(saved) > n, f"{argv[0]} drew nothing"
    problems = [f"{i}: {p}" for i, fig in enumerate(saved) for p in figure_problems(fig)]
    assert problems == [], "\n".join(problems)


def test_reproduce_figures_of_the_macro_and_table1_are_readable(tmp_path: Path,
                                                                saved: list[Figure]) -> None:
    from flexspim.hw import default_hardware
    from flexspim.reproduce import fig7a, table1

    fig7a(default_hardware(), tmp_path)
    table1(default_hardware(), tmp_path)
    assert len(saved) == 2
    assert [p for fig in saved for p in figure_problems(fig)] == []


def test_mapping_legend_lists_only_what_is_drawn(tmp_path: Path) -> None:
    from flexspim.compile import Activity, compile_network, load_mapping
    from flexspim.compile.plot import mapping_legend
    from flexspim.hw import default_hardware
    from flexspim.net.presets import dvs_gesture_scnn

    net = dvs_gesture_scnn()
    mapping = compile_network(net, default_hardware(), policy="optimal",
                              activity=Activity.from_sparsity(net, n_timesteps=20))
    labels = [label for label, _ in mapping_legend(mapping)]
    for lm in mapping.layers:
        assert any(lab.startswith(f"{lm.name}:") for lab in labels) == bool(lm.tiles)
    assert not any(lab.startswith("standby") for lab in labels) or any(
        t.col_stop - t.col_start < mapping.cols for lm in mapping.layers for t in lm.tiles)
    assert json.loads(json.dumps(mapping.to_dict())) and load_mapping  # the file form exists


def test_the_checks_catch_unreadable_figures() -> None:
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2)
    for k in range(3):
        a.plot([1, 2, 3], [k, k, k], "o-", label=f"s{k}")  # same marker and style, no labels
    a.legend(loc="center")  # on top of the middle points
    b.text(0.5, 0.5, "no data")
    problems = figure_problems(fig)
    plt.close(fig)
    assert any("no title" in p for p in problems)
    assert any("no x label" in p for p in problems)
    assert any("share a marker" in p for p in problems)
    assert any("legend covers" in p for p in problems)
    assert any("empty panel" in p for p in problems)


def test_the_timeline_marks_every_timestep(tmp_path: Path, saved: list[Figure]) -> None:
    """A dotted line where each timestep begins and the timestep numbers along the top, so that
    a reader sees which bars belong to which timestep."""
    save_network(_net(), tmp_path / "net.npz")
    rng = np.random.default_rng(1)
    np.save(tmp_path / "x.npy", (rng.random((4, 2, 2, 8, 8)) < 0.3).astype(np.int64))
    assert main(["compile", str(tmp_path / "net.npz"), "--out", str(tmp_path / "m.json"),
                 "--time-bins", "4"]) == 0
    assert main(["simulate", str(tmp_path / "net.npz"), str(tmp_path / "x.npy"), "--mapping",
                 str(tmp_path / "m.json"), "--json", str(tmp_path / "run.json"), "--timeline",
                 str(tmp_path / "t.png"), "--no-progress"]) == 0
    fig = saved[-1]
    assert figure_problems(fig) == []
    ax = fig.axes[0]
    phase = np.asarray(json.loads((tmp_path / "run.json").read_text())["cost"]["timeline"]
                       ["phase_ns"])
    starts = np.cumsum(phase.sum(axis=(1, 2)))[:-1] / 1e3
    marks = sorted(float(ln.get_xdata()[0]) for ln in ax.lines if ln.get_gid() == "timestep")
    assert marks == pytest.approx(starts.tolist())
    (top,) = ax.child_axes
    assert top.get_xlabel() == "timestep"
    assert [t.get_text() for t in top.get_xticklabels()] == ["0", "1", "2", "3"]
