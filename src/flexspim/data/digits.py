"""DigitsEvents: an offline event dataset made the way N-MNIST was recorded, no download.

Each 8 x 8 image of scikit-learn's digits (1797 images, 10 classes, shipped inside
scikit-learn) is enlarged ``scale`` times (bilinear) and moved in front of a simulated DVS along
three saccades that trace a triangle, as N-MNIST moved an ATIS sensor in front of MNIST digits
(Orchard et al. 2015, Front. Neurosci. 9:437). Each pixel emits ON/OFF events where its log
intensity has changed by more than its contrast threshold since its last event, as a DVS pixel
does (Lichtsteiner et al. 2008, IEEE JSSC 43(2)):

1. frames: the image at the saccade position of each of ``steps_per_saccade`` steps per
   saccade, sampled bilinearly onto the sensor; intensity ``I = floor + (1 - floor) * v / 16``
   (``v`` the digit's 0–16 grey value), log intensity ``L = ln I``;
2. per pixel a reference level ``ref`` (starts at the first frame's ``L``); at each step
   ``n = floor(|L - ref| / C)`` events of the sign of ``L - ref`` are emitted and
   ``ref += sign * n * C``; ``C`` is the pixel's threshold, ``contrast * (1 + mismatch * z)``
   with ``z ~ N(0, 1)`` fixed per pixel (fixed-pattern noise of one sensor);
3. the j-th of ``n`` events of a step is timed where ``L`` crossed its level, linearly
   interpolated within the step, plus Gaussian jitter of ``jitter_us`` µs; background-activity
   noise events arrive as a Poisson process of ``noise_rate_hz`` per pixel.

Everything is drawn from ``numpy.random.default_rng`` seeded by ``seed``: the same seed gives
the same events. The train/test split is fixed and does not depend on ``seed``: a stratified
80/20 split (per class, the first 20% of a permutation drawn with seed 0 are test images), so
1438 train and 359 test samples. The whole dataset (both splits) is built once per process and
configuration (about 2 s on one core) and kept in memory; no file is written.
"""

from __future__ import annotations

import importlib.util
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from flexspim.data.events import EVENT_DTYPE
from flexspim.errors import ConfigError

#: Fraction of each class held out for testing, and the seed of the split permutation.
TEST_FRACTION = 0.2
SPLIT_SEED = 0
_CHUNK = 256


@dataclass(frozen=True)
class DigitsConfig:
    """Settings of the simulated recording (defaults and their sources beside each field)."""

    #: Enlargement of the 8 x 8 digits (a 16 x 16 image at 2); chosen small so a small conv SNN
    #: trains in minutes on 2 CPU cores (flexspim choice).
    scale: int = 2
    #: Side of the saccade triangle in sensor pixels; N-MNIST's saccades move the image by a
    #: few pixels on a 34 x 34 sensor (Orchard et al. 2015); 2 px at 16 x 16 (flexspim choice).
    saccade_px: float = 2.0
    #: Empty pixels around the moving image on every side (flexspim choice).
    margin: int = 1
    #: Duration of one saccade in µs: about 100 ms in N-MNIST (Orchard et al. 2015).
    saccade_us: int = 100_000
    #: Rendered steps per saccade (flexspim choice; enough for sub-pixel motion of 2 px).
    steps_per_saccade: int = 16
    #: Contrast threshold in ln units. A DVS sets it by bias currents; 15% is the DVS128's finest
    #: (Lichtsteiner 2008); 0.3 keeps about 1200 events per sample (flexspim choice).
    contrast: float = 0.3
    #: Relative pixel-to-pixel threshold mismatch: 2.1% (Lichtsteiner 2008, Table I).
    mismatch: float = 0.021
    #: Background illumination as a fraction of full white, so ln I stays finite (flexspim choice).
    floor: float = 0.1
    #: Timing jitter (standard deviation, µs) of each event (flexspim choice, ~1/6 of a step).
    jitter_us: float = 1_000.0
    #: Background-activity noise per pixel in Hz; a DVS128 in room light shows ~0.1 Hz
    #: (order of magnitude from Lichtsteiner 2008).
    noise_rate_hz: float = 0.1

    def __post_init__(self) -> None:
        checks = (
            ("scale", self.scale >= 1 and int(self.scale) == self.scale, ">= 1 (an integer)"),
            ("saccade_px", self.saccade_px >= 0, ">= 0"),
            ("margin", self.margin >= 0 and int(self.margin) == self.margin, ">= 0"),
            ("saccade_us", self.saccade_us >= 1, ">= 1"),
            ("steps_per_saccade", self.steps_per_saccade >= 1, ">= 1"),
            ("contrast", self.contrast > 0, "> 0"),
            ("mismatch", 0 <= self.mismatch < 0.5, "in [0, 0.5)"),
            ("floor", 0 < self.floor < 1, "in (0, 1)"),
            ("jitter_us", self.jitter_us >= 0, ">= 0"),
            ("noise_rate_hz", self.noise_rate_hz >= 0, ">= 0"),
        )
        for name, ok, rule in checks:
            if not ok:
                raise ConfigError(
                    f"DigitsConfig.{name} = {getattr(self, name)!r}; it must be {rule}"
                )

    @property
    def image_px(self) -> int:
        """Side of the enlarged digit in pixels (``8 * scale``)."""
        return 8 * int(self.scale)

    @property
    def sensor_size(self) -> tuple[int, int, int]:
        """(W, H, 2): the image, the saccade span and the margin on both sides."""
        side = self.image_px + math.ceil(self.saccade_px) + 2 * int(self.margin)
        return (side, side, 2)

    @property
    def duration_us(self) -> int:
        """Length of one recording: three saccades."""
        return 3 * int(self.saccade_us)


@dataclass(frozen=True, eq=False)
class DigitsRecording:
    """All samples of one build: events of sample i are ``events[offsets[i]:offsets[i+1]]``."""

    events: np.ndarray
    offsets: np.ndarray
    labels: np.ndarray
    sensor_size: tuple[int, int, int]


def _load_digits() -> tuple[np.ndarray, np.ndarray]:
    """The 1797 digit images ``[N, 8, 8]`` (grey values 0–16) and labels, read from the
    ``digits.csv.gz`` inside scikit-learn without importing it (an import costs seconds);
    ``sklearn.datasets.load_digits`` is the fallback when the file is not where expected."""
    spec = importlib.util.find_spec("sklearn")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(
            "DigitsEvents needs scikit-learn; install it with pip install 'flexspim[data]'"
        )
    for root in spec.submodule_search_locations:
        path = Path(root) / "datasets" / "data" / "digits.csv.gz"
        if path.is_file():
            table = np.loadtxt(path, delimiter=",", dtype=np.float32)
            if table.shape == (1797, 65):
                return table[:, :64].reshape(-1, 8, 8), table[:, 64].astype(np.int64)
    from sklearn.datasets import load_digits  # the data extra; the core loads without it

    d = load_digits()
    return d.images.astype(np.float32), d.target.astype(np.int64)


def saccade_path(cfg: DigitsConfig) -> tuple[np.ndarray, np.ndarray]:
    """Image offset (dx, dy) in pixels at the start and after each step: ``[3 * steps + 1]``.

    The triangle (0, 0) -> (A/2, A) -> (A, 0) -> (0, 0), ``A = saccade_px``, at constant speed
    along each side.
    """
    a = float(cfg.saccade_px)
    verts = np.array([[0.0, 0.0], [a / 2, a], [a, 0.0], [0.0, 0.0]])
    s = int(cfg.steps_per_saccade)
    frac = np.arange(1, s + 1) / s
    pts = [verts[:1]]
    for i in range(3):
        pts.append(verts[i] + frac[:, None] * (verts[i + 1] - verts[i]))
    p = np.concatenate(pts)
    return p[:, 0], p[:, 1]


def _interp_matrix(n_out: int, offset: np.ndarray, cfg: DigitsConfig) -> np.ndarray:
    """Bilinear sampling matrices ``[K, n_out, 10]`` from a zero-padded 10-pixel digit axis.

    Sensor pixel ``X`` sees enlarged-image coordinate ``u = X - margin - offset``; that is digit
    coordinate ``(u + 0.5) / scale - 0.5`` (pixel centres), plus 1 for the zero padding.
    """
    xs = np.arange(n_out, dtype=np.float64)
    u = xs[None, :] - cfg.margin - offset[:, None]
    g = (u + 0.5) / cfg.scale - 0.5 + 1.0
    g = np.clip(g, 0.0, 9.0)
    i0 = np.floor(g).astype(np.int64)
    i0 = np.minimum(i0, 8)
    w1 = g - i0
    m = np.zeros((len(offset), n_out, 10), dtype=np.float32)
    kk, xx = np.meshgrid(np.arange(len(offset)), np.arange(n_out), indexing="ij")
    m[kk, xx, i0] += 1.0 - w1
    m[kk, xx, i0 + 1] += w1
    return m


def _chunk_events(
    images: np.ndarray, cfg: DigitsConfig, rx: np.ndarray, ry: np.ndarray, thr: np.ndarray,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Events of a chunk of images as (sample index within the chunk, EVENT_DTYPE array)."""
    b = len(images)
    w, h, _ = cfg.sensor_size
    padded = np.zeros((b, 10, 10), dtype=np.float32)
    padded[:, 1:9, 1:9] = images / 16.0
    # frames[k, b, y, x] = sum_ij ry[k, y, i] * img[b, i, j] * rx[k, x, j]
    frames = np.einsum("kyi,bij,kxj->kbyx", ry, padded, rx, optimize=True)
    np.clip(frames, 0.0, 1.0, out=frames)
    logi = np.log(cfg.floor + (1.0 - cfg.floor) * frames)
    ref = logi[0].copy()
    steps = logi.shape[0] - 1
    counts = np.zeros((steps, b, h, w), dtype=np.int16)
    mags = np.zeros((steps, b, h, w), dtype=np.float32)
    for k in range(steps):
        d = logi[k + 1] - ref
        mag = np.abs(d)
        n = np.floor(mag / thr)
        ref += np.copysign(n * thr, d)
        counts[k] = np.copysign(n, d)
        mags[k] = mag
    flat = np.flatnonzero(counts)
    c = counts.ravel()[flat]
    kk, bb, yy, xx = np.unravel_index(flat, counts.shape)
    n = np.abs(c).astype(np.int64)
    # level j of the n crossed in a step is reached at fraction j * C / |d| of the step
    step_frac = thr.ravel()[flat % (h * w)] / mags.ravel()[flat]
    starts = np.cumsum(n) - n
    j = np.arange(int(n.sum())) - np.repeat(starts, n) + 1
    frac = np.minimum(j * np.repeat(step_frac, n), 1.0)
    dt = cfg.saccade_us / cfg.steps_per_saccade
    t = (np.repeat(kk, n) + frac) * dt
    if cfg.jitter_us > 0:
        t = t + rng.normal(0.0, cfg.jitter_us, size=len(t))
    sample = np.repeat(bb, n)
    x, y, p = np.repeat(xx, n), np.repeat(yy, n), np.repeat(c > 0, n)
    n_noise = rng.poisson(cfg.noise_rate_hz * w * h * cfg.duration_us * 1e-6, size=b)
    total = int(n_noise.sum())
    sample = np.concatenate([sample, np.repeat(np.arange(b), n_noise)])
    x = np.concatenate([x, rng.integers(0, w, total)])
    y = np.concatenate([y, rng.integers(0, h, total)])
    p = np.concatenate([p, rng.integers(0, 2, total).astype(bool)])
    t = np.concatenate([t, rng.uniform(0, cfg.duration_us, total)])
    t = np.clip(np.rint(t), 0, cfg.duration_us - 1).astype(np.int64)
    order = np.lexsort((t, sample))
    ev = np.empty(len(order), dtype=EVENT_DTYPE)
    ev["x"], ev["y"], ev["p"], ev["t"] = x[order], y[order], p[order], t[order]
    return sample[order], ev


@lru_cache(maxsize=4)
def build_digits(seed: int = 0, config: DigitsConfig = DigitsConfig()) -> DigitsRecording:
    """Record every digit (train and test) with ``config``; cached per process.

    Deterministic for ``(seed, config)``; about 2 s on one core with the defaults.
    """
    images, labels = _load_digits()
    w, h, _ = config.sensor_size
    dx, dy = saccade_path(config)
    rx = _interp_matrix(w, dx, config)
    ry = _interp_matrix(h, dy, config)
    fpn = np.random.default_rng([int(seed), 0])
    thr = config.contrast * (1.0 + config.mismatch * fpn.standard_normal((h, w)))
    thr = thr.astype(np.float32)
    parts, counts = [], []
    for c0 in range(0, len(images), _CHUNK):
        rng = np.random.default_rng([int(seed), 1, c0])
        sample, ev = _chunk_events(images[c0 : c0 + _CHUNK], config, rx, ry, thr, rng)
        parts.append(ev)
        counts.append(np.bincount(sample, minlength=len(images[c0 : c0 + _CHUNK])))
    per = np.concatenate(counts)
    offsets = np.concatenate([[0], np.cumsum(per)]).astype(np.int64)
    events = np.concatenate(parts)
    events.flags.writeable = False
    return DigitsRecording(events, offsets, labels, config.sensor_size)


def digits_split(labels: np.ndarray) -> dict[str, np.ndarray]:
    """The fixed stratified split: image indices of ``"train"`` and ``"test"`` (sorted)."""
    rng = np.random.default_rng(SPLIT_SEED)
    test: list[np.ndarray] = []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        perm = rng.permutation(idx)
        test.append(perm[: int(round(TEST_FRACTION * len(idx)))])
    test_idx = np.sort(np.concatenate(test))
    train_idx = np.setdiff1d(np.arange(len(labels)), test_idx)
    return {"train": train_idx, "test": test_idx}


class DigitsEvents:
    """scikit-learn's digits as DVS recordings (see the module docstring); no download.

    ``split`` is ``"train"`` (1438 samples) or ``"test"`` (359); ``seed`` fixes every random
    draw of the recording; ``transform`` (optional) is applied to each sample's events.
    Items are ``(events, label)``: a fresh :data:`EVENT_DTYPE` array (t in µs, 0–300 ms) and
    the digit 0–9.
    """

    classes: list[str] = [str(d) for d in range(10)]

    def __init__(
        self,
        split: str = "train",
        *,
        seed: int = 0,
        config: DigitsConfig | None = None,
        transform: object = None,
    ) -> None:
        cfg = config if config is not None else DigitsConfig()
        if not isinstance(cfg, DigitsConfig):
            raise ConfigError(f"config: expected a DigitsConfig, got {type(cfg).__name__}")
        rec = build_digits(int(seed), cfg)
        splits = digits_split(rec.labels)
        if split not in splits:
            raise ConfigError(f"split = {split!r}; use one of {sorted(splits)}")
        if transform is not None and not callable(transform):
            raise ConfigError(f"transform: {transform!r} is not callable")
        self.split = split
        self.seed = int(seed)
        self.config = cfg
        self.transform = transform
        self.sensor_size: tuple[int, int, int] = cfg.sensor_size
        self._rec = rec
        self.indices: np.ndarray = splits[split]
        self.targets: np.ndarray = rec.labels[self.indices]

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int) -> tuple[np.ndarray, int]:
        n = len(self.indices)
        if not -n <= int(i) < n:
            raise IndexError(f"DigitsEvents({self.split!r}) has {n} samples, index {i}")
        k = int(self.indices[int(i)])
        a, b = self._rec.offsets[k], self._rec.offsets[k + 1]
        events = self._rec.events[a:b].copy()
        if self.transform is not None:
            events = self.transform(events)  # type: ignore[operator]
        return events, int(self._rec.labels[k])
