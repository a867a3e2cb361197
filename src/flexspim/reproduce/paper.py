"""The paper's numbers, the other chips' reported figures, and where each difference of the
model from them is explained (docs/reproduce.md)."""

from __future__ import annotations

#: The paper's numbers (arXiv 2410.23082, abstract, §III, §IV, Table I).
PAPER = {
    "stationary_operands_gain_hsmin_vs_ws": 0.46,  # Fig. 4: HS-min holds 46% more operands
    "max_system_saving_hs_vs_ws": 0.90,      # Fig. 7: up to 90% energy saved
    "workload_map_max_saving_hs_vs_ws": 0.90,  # the same claim, over the workload map
    "pj_per_sop_8w16v_0v9": 5.7,             # Table I
    "pj_per_sop_8w16v_1v1": 7.2,             # Table I
    "max_gain_vs_rowwise": 4.3,              # Fig. 7a: up to 4.3x vs row-wise stacking
    "shape_spread_16b_32och": 0.24,          # Fig. 7a: < 24% across shapes
}

#: Figures other chips report that the printed table sets beside our model's (their sources in
#: :data:`flexspim.reproduce.macro_figs.OTHER_CHIPS`): SpiDR's abstract, up to 5 TOPS/W at 95%
#: input sparsity, 4-bit weights, 7-bit membranes.
REPORTED: dict[str, float] = {"spidr_tops_per_w_4w7v": 5.0}

#: Where each result's difference from the paper is explained (printed under the table).
EXPLAINED_IN: dict[str, str] = {
    "stationary_operands_gain_hsmin_vs_ws": "docs/reproduce.md, section 'Fig. 4: stationary "
                                            "operands'",
    "max_system_saving_hs_vs_ws": "docs/reproduce.md, section 'Fig. 7: system energy'",
    "workload_map_max_saving_hs_vs_ws": "docs/reproduce.md, section 'The workload map: where hybrid "
                               "pays'",
    "max_gain_vs_rowwise": "docs/energy.md, section 'What the model gives (0.9 V)'",
    "shape_spread_16b_32och": "docs/energy.md, section 'What the model gives (0.9 V)' (the shape "
                              "spread)",
    "pj_per_sop_8w16v_0v9": "docs/energy.md, section 'What the model gives (0.9 V)'",
    "pj_per_sop_8w16v_1v1": "docs/energy.md, section 'What the model gives (0.9 V)'",
    "spidr_tops_per_w_4w7v": "docs/reproduce.md, section 'SpiDR: our model beside its 5 TOPS/W'",
}

#: Relative difference from the paper's value above which a result counts as different.
DIFFERENCE_TOLERANCE = 0.05


def reference(key: str) -> float | None:
    """The published value a summary key is compared with: the FlexSpIM paper's
    (:data:`PAPER`), or another chip's (:data:`REPORTED`)."""
    return PAPER.get(key, REPORTED.get(key))


def differs(key: str, model: float | None) -> bool:
    """Whether the model's value misses the paper's (an upper bound for the shape spread)."""
    paper = reference(key)
    if paper is None or model is None:
        return False
    if key == "shape_spread_16b_32och":
        return model >= paper
    return abs(model - paper) > DIFFERENCE_TOLERANCE * abs(paper)
