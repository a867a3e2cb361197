"""Mixed-precision search: per-layer weight/membrane widths with the lowest energy at a given
accuracy loss (the chip sets each operand's width with 1-bit granularity, paper §II).

Each candidate re-quantises the trained network (:func:`flexspim.dse.networks.requantise`),
simulates it bit-exactly on the sweep's data sample and costs it from the simulator's counts,
like any ``evaluation: simulate`` point: candidates are ordinary sweep points (full per-layer
width tuples), stored and keyed the same way, so a search resumes where it stopped.

- ``greedy`` (default): start from the trained widths (the baseline). Each round proposes, for
  every spiking layer, its weight width lowered to the next candidate below, and its membrane
  width lowered to the next candidate below (not below the weight width); all proposals of a
  round run in parallel. The proposal with the lowest energy whose accuracy is at least
  ``baseline - max_accuracy_loss`` is taken if it saves energy; the search stops when none does.
  At most ``2 x layers x candidates`` rounds of ``2 x layers`` points.
- ``exhaustive``: every combination of candidate widths per layer (``w <= v``), at most
  :data:`~flexspim.dse.spec.MAX_POINTS`; the best feasible one is reported.
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass, replace
from typing import Any

from flexspim.dse.evaluate import evaluate_task
from flexspim.dse.execute import Evaluator, OnStored, SweepOutcome, evaluate_tasks, maybe_client
from flexspim.dse.points import SweepPoint, Task, expand_points, make_task
from flexspim.dse.spec import MAX_POINTS, MixedPrecisionSpec, SweepSpec
from flexspim.dse.store import PointResult, open_store
from flexspim.errors import ConfigError


@dataclass(frozen=True)
class MixedPrecisionResult:
    """The search's outcome: the baseline (trained widths), the best point found, the points
    accepted on the way (greedy), and every evaluated point (``outcome``)."""

    baseline: PointResult
    best: PointResult
    path: tuple[PointResult, ...]
    outcome: SweepOutcome
    max_accuracy_loss: float

    @property
    def energy_saving(self) -> float:
        """Fraction of the baseline's energy per inference that the best point saves."""
        e0 = float(self.baseline.metrics["energy_per_inference_uj"])
        e1 = float(self.best.metrics["energy_per_inference_uj"])
        return 1.0 - e1 / e0 if e0 > 0 else 0.0


def _feasible(r: PointResult, floor: float) -> bool:
    acc = r.metrics.get("accuracy")
    return r.status == "ok" and acc is not None and float(acc) >= floor - 1e-12


def _energy(r: PointResult) -> float:
    return float(r.metrics["energy_per_inference_uj"])


def _lower(cands: tuple[int, ...], current: int, floor: int) -> int | None:
    below = [c for c in cands if floor <= c < current]
    return max(below) if below else None


def greedy_proposals(w: tuple[int, ...], v: tuple[int, ...], mixed: MixedPrecisionSpec
                     ) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
    """One greedy round's proposals from widths ``(w, v)``: each layer's w or v one step down."""
    out = []
    for i in range(len(w)):
        nw = _lower(mixed.w_bits, w[i], 1)
        if nw is not None:
            out.append((w[:i] + (nw,) + w[i + 1:], v))
        nv = _lower(mixed.v_bits, v[i], max(2, w[i]))
        if nv is not None:
            out.append((w, v[:i] + (nv,) + v[i + 1:]))
    return out


def exhaustive_widths(n_layers: int, mixed: MixedPrecisionSpec
                      ) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
    """Every per-layer combination of candidate widths with ``w <= v``."""
    pairs = [(w, v) for w in mixed.w_bits for v in mixed.v_bits if w <= v]
    total = len(pairs) ** n_layers
    if total > MAX_POINTS:
        raise ConfigError(f"mixed_precision: exhaustive search over {n_layers} layers has "
                          f"{total} points (> {MAX_POINTS}); use search: greedy or fewer "
                          f"candidate widths")
    return [(tuple(p[0] for p in combo), tuple(p[1] for p in combo))
            for combo in itertools.product(pairs, repeat=n_layers)]


def search_mixed_precision(spec: SweepSpec, store_path: str | os.PathLike[str], *,
                           scheduler: str | None = None, workers: int | None = None,
                           client: Any = None, evaluate: Evaluator | None = None,
                           progress: bool = True,
                           on_stored: OnStored | None = None) -> MixedPrecisionResult:
    """Run (or resume) the mixed-precision search of ``spec`` (module docstring)."""
    if spec.mixed is None:
        raise ConfigError(f"{spec.source}: not a mixed_precision sweep; set 'mode: "
                          f"mixed_precision'")
    evaluator = evaluate or evaluate_task
    mixed = spec.mixed
    base_point = expand_points(spec)[0]
    seen: dict[str, PointResult] = {}
    computed = 0

    with open_store(store_path) as store, maybe_client(client, scheduler, workers) as cl:
        before = store.keys()

        def run(points: list[SweepPoint], desc: str) -> list[PointResult]:
            nonlocal computed
            tasks: list[Task] = [make_task(spec, p) for p in points]
            results, n = evaluate_tasks(tasks, store, spec.name, cl, evaluator,
                                        progress=progress, on_stored=on_stored, desc=desc)
            computed += n
            for r in results:
                seen[r.key] = r
            return results

        (baseline,) = run([base_point], f"{spec.name}: baseline")
        if baseline.status != "ok" or baseline.metrics.get("accuracy") is None:
            raise ConfigError(f"{spec.source}: the baseline point failed ({baseline.error}); "
                              f"fix the base hardware or network first")
        floor = float(baseline.metrics["accuracy"]) - mixed.max_accuracy_loss
        w0 = tuple(int(x) for x in baseline.metrics["layer_w_bits"])
        v0 = tuple(int(x) for x in baseline.metrics["layer_v_bits"])
        best, path = baseline, [baseline]
        if mixed.search == "exhaustive":
            points = [replace(base_point, w_bits=w, v_bits=v)
                      for w, v in exhaustive_widths(len(w0), mixed)]
            results = run(points, f"{spec.name}: exhaustive")
            feasible = [r for r in results if _feasible(r, floor)]
            if feasible:
                cand = min(feasible, key=lambda r: (_energy(r), r.key))
                if _energy(cand) < _energy(best):
                    best = cand
                    path.append(cand)
        else:
            w, v = w0, v0
            for step in range(2 * len(w0) * (len(mixed.w_bits) + len(mixed.v_bits)) + 1):
                proposals = greedy_proposals(w, v, mixed)
                if not proposals:
                    break
                results = run([replace(base_point, w_bits=pw, v_bits=pv)
                               for pw, pv in proposals], f"{spec.name}: round {step + 1}")
                feasible = [r for r in results if _feasible(r, floor)]
                if not feasible:
                    break
                cand = min(feasible, key=lambda r: (_energy(r), r.key))
                if _energy(cand) >= _energy(best):
                    break
                best = cand
                path.append(cand)
                w = tuple(int(x) for x in cand.metrics["layer_w_bits"])
                v = tuple(int(x) for x in cand.metrics["layer_v_bits"])
    ordered = tuple(seen.values())
    outcome = SweepOutcome(name=spec.name, results=ordered, computed=computed,
                           reused=sum(k in before for k in seen))
    return MixedPrecisionResult(baseline=baseline, best=best, path=tuple(path),
                                outcome=outcome, max_accuracy_loss=mixed.max_accuracy_loss)
