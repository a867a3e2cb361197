"""Event data: Tonic-compatible event arrays, readers, an offline dataset, binning.

- :data:`EVENT_DTYPE`: Tonic's structured dtype (x, y int16; p bool; t int64 µs).
- :func:`read_events`: event recordings of every common format (AEDAT 4.0 and 3.1, Prophesee
  EVT 2.0 / EVT 3.0 / DAT, ``.npy``), told apart by content, or folders of them
  (:mod:`flexspim.data.recordings`).
- :func:`read_aedat` / :func:`write_aedat`: AEDAT 3.1 files, per the specification.
- :class:`DVSGesture`: IBM DVS Gesture, original release or Tonic's layout.
- :class:`DigitsEvents`: scikit-learn's digits recorded by a simulated DVS in three saccades
  (N-MNIST style), needing no download.
- :func:`bin_events`, :func:`load_frames`: int16 ``[T, P, H, W]`` count frames.
- transforms (:class:`Downsample`, :class:`Denoise`, :class:`ToFrames`, :class:`Compose`).
- :class:`Preprocess`, :func:`make_samples`, :func:`check_fit`: recordings to a network's
  input (crop, down-sampling, denoise, time windows, polarity; :mod:`flexspim.data.inputs`).
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
    crop_events,
    denoise_events,
    downsample_events,
    downsample_to,
    downsampled_size,
    slice_by_time,
    time_bin_index,
)
from flexspim.data.info import DataInfo, describe, inspect_path
from flexspim.data.inputs import (
    LabelRow,
    Preprocess,
    Samples,
    check_fit,
    make_samples,
    read_label_table,
    recording_sensor,
)
from flexspim.data.recordings import Recording, detect_format, read_events, read_recording
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
    "LabelRow",
    "PacketSummary",
    "Preprocess",
    "Recording",
    "Samples",
    "ToFrames",
    "as_events",
    "bin_events",
    "build_digits",
    "check_fit",
    "crop_events",
    "decode_aedat",
    "denoise_events",
    "describe",
    "detect_format",
    "detect_layout",
    "digits_split",
    "downsample_events",
    "downsample_to",
    "downsampled_size",
    "duration_us",
    "encode_aedat",
    "inspect_path",
    "load_frames",
    "make_events",
    "make_samples",
    "read_aedat",
    "read_aedat_header",
    "read_events",
    "read_label_table",
    "read_labels",
    "read_recording",
    "read_tonic_npy",
    "read_trials",
    "recording_sensor",
    "slice_by_time",
    "summarize_aedat",
    "time_bin_index",
    "write_aedat",
]
