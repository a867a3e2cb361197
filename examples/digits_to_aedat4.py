"""Write a real AEDAT 4 recording with iniVation's own writer (dv-processing): test digits of the
offline digits dataset as a 128 x 128 DVS128 would see them, one after another, 300 ms each.

    python examples/digits_to_aedat4.py out/rec [--count 20]

writes ``out/rec/digits.aedat4`` and ``out/rec/labels.csv`` (``file,label,start_us,end_us``:
one labelled span per digit, in the recording's clock). Each 20 x 20 digit sample is enlarged
4x onto the centre of the sensor (the 80 x 80 box at (24, 24)): an event at (x, y) becomes one
at (24 + 4x + u, 24 + 4y + v) with u, v drawn uniformly from 0..3, as a four times finer pixel
grid would record it. So ``--crop 24,24,80,80 --downsample 20,20`` gives back the dataset's own
events, and the shipped digits model classifies the recording as it classifies the test split:

    flexspim simulate src/flexspim/assets/digits_net.npz out/rec/digits.aedat4 \\
        --labels out/rec/labels.csv --crop 24,24,80,80 --downsample 20,20 --time-bins 12
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np

SENSOR = (128, 128)
SCALE, ORIGIN = 4, 24
SAMPLE_US = 300_000
#: The recording starts at a DV-like clock (µs since 1970), as a camera's would.
T0_US = 1_700_000_000_000_000


def enlarge(events: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Events of a 20 x 20 sample on the 128 x 128 sensor (see the module docstring)."""
    src = events[np.argsort(events["t"], kind="stable")]
    out = src.copy()
    out["x"] = ORIGIN + SCALE * src["x"] + rng.integers(0, SCALE, len(src))
    out["y"] = ORIGIN + SCALE * src["y"] + rng.integers(0, SCALE, len(src))
    return out


def main() -> None:
    import dv_processing as dv

    from flexspim.data import DigitsEvents

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="output folder")
    parser.add_argument("--count", type=int, default=20, help="test digits (default 20)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    digits = DigitsEvents("test", seed=0)
    rng = np.random.default_rng(0)
    store = dv.EventStore()
    rows = []
    for k in range(min(args.count, len(digits))):
        events, label = digits[k]
        start = T0_US + k * SAMPLE_US
        for e in enlarge(events, rng):
            store.push_back(start + int(e["t"]), int(e["x"]), int(e["y"]), bool(e["p"]))
        rows.append(("digits.aedat4", int(label), start, start + SAMPLE_US))
    config = dv.io.MonoCameraWriter.EventOnlyConfig("DVS128_digits", SENSOR)
    writer = dv.io.MonoCameraWriter(str(args.out / "digits.aedat4"), config)
    writer.writeEvents(store)
    del writer  # closing the writer writes the packet index
    with open(args.out / "labels.csv", "w", newline="") as f:
        csv.writer(f).writerows([("file", "label", "start_us", "end_us"), *rows])
    print(f"wrote {args.out / 'digits.aedat4'} ({store.size()} events, {len(rows)} digits on a "
          f"{SENSOR[0]} x {SENSOR[1]} sensor) and {args.out / 'labels.csv'}")


if __name__ == "__main__":
    main()
