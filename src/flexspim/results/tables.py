"""Table builders: run documents, mappings and sweeps as rows of scalars (docs/results.md).

Every builder returns a list of flat dicts; each has ``table`` and every parameter of what made
it. Units are in the column names (``_pj``, ``_uj``, ``_us``, ``_bits``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

Row = dict[str, Any]


def _scalar(v: Any) -> bool:
    return v is None or isinstance(v, (bool, int, float, str))


def flat(doc: Any, prefix: str = "") -> Row:
    """The scalars of a nested dict as ``a.b`` keys; lists of scalars as one space-separated
    string; lists of objects are left out (they are tables of their own)."""
    out: Row = {}
    if not isinstance(doc, dict):
        return out
    for k, v in doc.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flat(v, f"{key}."))
        elif isinstance(v, (list, tuple)):
            if all(_scalar(x) and not isinstance(x, str) for x in v):
                out[key] = " ".join(str(x) for x in v)
        elif _scalar(v):
            out[key] = v
    return out


def find_macros(doc: Any) -> list[dict[str, Any]]:
    """The first list of objects under a key ``per_macro`` (the cost's: energy, busy time,
    utilisation) or ``macros`` in ``doc`` (depth first, through objects only), or []: per-macro
    entries, wherever the run document keeps them."""
    if not isinstance(doc, dict):
        return []
    for key in ("per_macro", "macros"):
        v = doc.get(key)
        if isinstance(v, list) and v and all(isinstance(x, dict) for x in v):
            return v
    for val in doc.values():
        found = find_macros(val)
        if found:
            return found
    return []


def _with(params: Row, rows: Iterable[Row]) -> list[Row]:
    return [{**r, **{k: v for k, v in params.items() if k not in r}} for r in rows]


def _run_params(doc: dict[str, Any]) -> Row:
    sim = doc.get("simulation") or {}
    mapping = doc.get("mapping") or {}
    params: Row = {"network": sim.get("network"), "engine": sim.get("engine"),
                   "n_samples": sim.get("n_samples"), "n_timesteps": sim.get("n_timesteps"),
                   "policy": mapping.get("policy"), "n_macros": mapping.get("n_macros")}
    params.update({f"hw.{k}": v for k, v in flat(doc.get("hardware") or {}).items()})
    return params


def _sample_rows(sim: dict[str, Any], names: list[str] | None) -> list[Row]:
    labels = sim.get("labels")
    rows = []
    for i, pred in enumerate(sim.get("predictions") or []):
        label = labels[i] if labels is not None else None
        rows.append({"table": "sample", "sample": i,
                     "sample_name": names[i] if names and i < len(names) else None,
                     "label": label, "prediction": pred,
                     "correct": None if label is None else bool(pred == label),
                     "sops": sum(sim["sample_sops"][i]), "spikes": sum(sim["sample_spikes"][i]),
                     "input_events": sum(sim["sample_input_events"][i])})
    return rows


def _layer_rows(doc: dict[str, Any]) -> list[Row]:
    sim = doc["simulation"]
    cost = doc.get("cost") or {}
    per_layer = cost.get("per_layer_pj") or {}
    latency = cost.get("per_layer_latency_us") or {}
    n = max(int(sim.get("n_samples") or 1), 1)
    mapped = {lm["name"]: lm for lm in (doc.get("mapping") or {}).get("layers", [])}
    rows = []
    for i, name in enumerate(sim["layer_names"]):
        row: Row = {"table": "layer", "layer": name, "layer_index": i,
                    "input_events": sum(sim["input_events"][i]), "sops": sum(sim["sops"][i]),
                    "output_spikes": sum(sim["output_spikes"][i]),
                    "overflow_events": sum(sim["overflow_events"][i]),
                    "membrane_min": min(sim["membrane_min"][i], default=None),
                    "membrane_max": max(sim["membrane_max"][i], default=None)}
        neurons = sim.get("layer_neurons") or []
        if i < len(neurons):
            row["neurons"] = neurons[i]
        row.update({f"mapping.{k}": v for k, v in flat(mapped.get(name, {})).items()
                    if k != "name"})
        for comp, pj in (per_layer.get(name) or {}).items():
            row[f"energy_{comp}_pj_per_inference"] = float(pj) / n
        if name in latency:
            row["latency_us_per_inference"] = latency[name]
        rows.append(row)
    return rows


def _component_rows(cost: dict[str, Any]) -> list[Row]:
    n = max(int(cost.get("n_samples") or 1), 1)
    return [{"table": "component", "component": c, "energy_pj": float(v),
             "energy_pj_per_inference": float(v) / n}
            for c, v in (cost.get("total_pj") or {}).items()]


def _macro_rows(doc: dict[str, Any]) -> list[Row]:
    rows = []
    for i, entry in enumerate(find_macros(doc)):
        row = {"table": "macro", **flat(entry)}
        row.setdefault("macro", i)
        rows.append(row)
    return rows


def _summary_row(doc: dict[str, Any]) -> Row:
    sim = doc["simulation"]
    labels, preds = sim.get("labels"), sim.get("predictions") or []
    acc = (sum(int(p == q) for p, q in zip(preds, labels, strict=True)) / len(preds)
           if labels is not None and preds else None)
    row: Row = {"table": "run", "accuracy": acc,
                "sops": sum(sum(r) for r in sim["sops"]),
                "output_spikes": sum(sum(r) for r in sim["output_spikes"])}
    cost = doc.get("cost") or {}
    for k in ("energy_per_inference_uj", "latency_per_inference_us", "latency_per_timestep_us",
              "total_energy_pj"):
        if k in cost:
            row[k] = cost[k]
    extra = doc.get("extra") or {}
    row.update({f"neurobench.{k}": v for k, v in flat(extra.get("neurobench") or {}).items()})
    if doc.get("mapping"):
        row["stationary_fraction"] = doc["mapping"].get("stationary_fraction")
    return row


def run_rows(doc: dict[str, Any], names: list[str] | None = None) -> list[Row]:
    """Rows of a run document: one ``run`` summary, one per ``sample``, ``layer``, energy
    ``component`` (with a cost) and ``macro`` (where the document has per-macro entries)."""
    rows = [_summary_row(doc), *_sample_rows(doc["simulation"], names), *_layer_rows(doc)]
    if doc.get("cost"):
        rows += _component_rows(doc["cost"])
    rows += _macro_rows(doc)
    return _with(_run_params(doc), rows)


def mapping_rows(mapping: dict[str, Any], cost: dict[str, Any], counts: dict[str, Any],
                 params: Row) -> list[Row]:
    """Rows of a compiled mapping (``Mapping.to_dict()``), its estimated cost and counts
    (``to_dict()`` of each): ``run``, ``layer``, ``component`` and ``macro``; ``params`` (the
    command's settings) go into every row."""
    per_layer = cost.get("per_layer_pj") or {}
    latency = cost.get("per_layer_latency_us") or {}
    counted = counts.get("per_layer") or {}      # WorkCounts.to_dict(): layer -> field -> total
    rows: list[Row] = [{"table": "run", "stationary_fraction": mapping.get("stationary_fraction"),
                        **{k: cost.get(k) for k in ("energy_per_inference_uj",
                                                    "latency_per_inference_us",
                                                    "latency_per_timestep_us")}}]
    for i, lm in enumerate(mapping.get("layers", [])):
        row: Row = {"table": "layer", "layer": lm["name"], "layer_index": i}
        row.update({f"mapping.{k}": v for k, v in flat(lm).items() if k != "name"})
        row.update({f"counts.{k}": v for k, v in counted.get(lm["name"], {}).items()
                    if k != "layer"})
        for comp, pj in (per_layer.get(lm["name"]) or {}).items():
            row[f"energy_{comp}_pj_per_inference"] = pj
        if lm["name"] in latency:
            row["latency_us_per_inference"] = latency[lm["name"]]
        rows.append(row)
    rows += _component_rows(cost)
    rows += _macro_rows({"cost": cost, "counts": counts, "mapping": mapping})
    fixed = {"network": mapping.get("network"), "policy": mapping.get("policy"),
             "n_macros": mapping.get("n_macros"), **params}
    return _with(fixed, rows)


def sweep_rows(results: Iterable[Any], fixed: Row, base: Row) -> list[Row]:
    """Rows of a sweep's stored points: one ``point`` per point (every swept parameter filled
    with the value used: the point's own, else ``base``), its metrics and energy components,
    and one ``layer`` row per spiking layer with its widths. ``fixed`` (the sweep's settings)
    goes into every row."""
    rows: list[Row] = []
    for r in results:
        params = {k: (v if v is not None else base.get(k))
                  for k, v in r.point.to_dict().items()}
        m = r.metrics or {}
        widths = {k: m.get(f"layer_{k}") for k in ("w_bits", "v_bits")}
        for k, layer_bits in widths.items():
            if params.get(k) is None and layer_bits:
                params[k] = (layer_bits[0] if len(set(layer_bits)) == 1
                             else " ".join(map(str, layer_bits)))
            elif isinstance(params.get(k), list):
                params[k] = " ".join(map(str, params[k]))
        if params.get("input_sparsity") is None:
            params["input_sparsity"] = m.get("input_sparsity")
        params = {"key": r.key, **params}
        point: Row = {"table": "point", "status": r.status, "error": r.error,
                      **{k: v for k, v in m.items() if _scalar(v)}}
        for comp, pj in (m.get("components_pj") or {}).items():
            point[f"energy_{comp}_pj_per_inference"] = pj
        rows += _with({**params, **fixed}, [point])
        for i, (w, v) in enumerate(zip(widths["w_bits"] or [], widths["v_bits"] or [],
                                       strict=True)):
            rows += _with({**params, **fixed},
                          [{"table": "layer", "layer_index": i, "layer_w_bits": w,
                            "layer_v_bits": v}])
    return rows
