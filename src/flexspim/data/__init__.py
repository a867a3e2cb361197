"""Event data: Tonic-compatible event arrays, readers, an offline dataset, binning.

- :data:`EVENT_DTYPE`: Tonic's structured dtype (x, y int16; p bool; t int64 µs).
- :func:`read_aedat` / :func:`write_aedat`: AEDAT 3.1 files, per the specification.
- :class:`DVSGesture`: IBM DVS Gesture, original release or Tonic's layout.
- :class:`DigitsEvents`: scikit-learn's digits recorded by a simulated DVS in three saccades
  (N-MNIST style), needing no download.
- :func:`bin_events`, :func:`load_frames`: int16 ``[T, P, H, W]`` count frames.
- transforms (:class:`Downsample`, :class:`Denoise`, :class:`ToFrames`, :class:`Compose`).
- :func:`inspect_path`: what a file or folder holds (``flexspim data info``).

See docs/data.md.
"""

from flexspim.data.aedat import (
    AedatHeader,
    PacketSummary,
    decode_aedat,
    encode_aedat,
    read_aedat,
    read_aedat_header,
    summarize_aedat,
    write_aedat,
)
from flexspim.data.digits import DigitsConfig, DigitsEvents, build_digits, digits_split
from flexspim.data.dvsgesture import (
    GESTURE_CLASSES,
    DVSGesture,
    GestureSample,
    detect_layout,
    read_labels,
    read_tonic_npy,
    read_trials,
)
from flexspim.data.events import EVENT_DTYPE, as_events, duration_us, make_events
from flexspim.data.frames import load_frames
from flexspim.data.functional import (
    bin_events,
    denoise_events,
    downsample_events,
    downsampled_size,
    time_bin_index,
)
from flexspim.data.info import DataInfo, describe, inspect_path
from flexspim.data.transforms import Compose, Denoise, Downsample, ToFrames

__all__ = [
    "EVENT_DTYPE",
    "GESTURE_CLASSES",
    "AedatHeader",
    "Compose",
    "DVSGesture",
    "DataInfo",
    "Denoise",
    "DigitsConfig",
    "DigitsEvents",
    "Downsample",
    "GestureSample",
    "PacketSummary",
    "ToFrames",
    "as_events",
    "bin_events",
    "build_digits",
    "decode_aedat",
    "denoise_events",
    "describe",
    "detect_layout",
    "digits_split",
    "downsample_events",
    "downsampled_size",
    "duration_us",
    "encode_aedat",
    "inspect_path",
    "load_frames",
    "make_events",
    "read_aedat",
    "read_aedat_header",
    "read_labels",
    "read_tonic_npy",
    "read_trials",
    "summarize_aedat",
    "time_bin_index",
    "write_aedat",
]
