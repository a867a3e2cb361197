"""Quantization-aware SNN training, export to the integer network, NIR interchange (docs/design.md §4).

Needs PyTorch (the ``torch`` extra); ``import flexspim`` does not import this package. The NIR
functions need the ``nir`` extra. Training runs on the CPU or a CUDA GPU and over several
processes (``torchrun``): :class:`Runtime`, :mod:`flexspim.train.distributed`. See
docs/training.md.
"""

from flexspim.train.arch import (
    PRESETS,
    Architecture,
    ConvSpec,
    FlattenSpec,
    LinearSpec,
    PoolSpec,
    preset,
)
from flexspim.train.distributed import DataParallel
from flexspim.train.loop import (
    CHECKPOINT_FORMAT,
    CHECKPOINT_NAME,
    CHECKPOINT_VERSION,
    Checkpoint,
    FitResult,
    Runtime,
    TrainConfig,
    build_model,
    fit,
    load_checkpoint,
)
from flexspim.train.model import (
    QuantSNN,
    export_network,
    integer_counts,
    integer_predictions,
    quantize_weight,
    weight_levels,
)
from flexspim.train.nir_io import (
    ImportReport,
    import_nir,
    model_to_nir,
    network_from_nir,
    network_to_nir,
)
from flexspim.train.record import (
    RECORD_FORMAT,
    RECORD_VERSION,
    SUMMARY_FORMAT,
    SUMMARY_VERSION,
    load_summary,
    model_record,
    network_fingerprint,
)

__all__ = [
    "CHECKPOINT_FORMAT",
    "CHECKPOINT_NAME",
    "CHECKPOINT_VERSION",
    "PRESETS",
    "RECORD_FORMAT",
    "RECORD_VERSION",
    "SUMMARY_FORMAT",
    "SUMMARY_VERSION",
    "Architecture",
    "Checkpoint",
    "ConvSpec",
    "DataParallel",
    "FitResult",
    "FlattenSpec",
    "ImportReport",
    "LinearSpec",
    "PoolSpec",
    "QuantSNN",
    "Runtime",
    "TrainConfig",
    "build_model",
    "export_network",
    "fit",
    "import_nir",
    "integer_counts",
    "integer_predictions",
    "load_checkpoint",
    "load_summary",
    "model_record",
    "model_to_nir",
    "network_fingerprint",
    "network_from_nir",
    "network_to_nir",
    "preset",
    "quantize_weight",
    "weight_levels",
]
