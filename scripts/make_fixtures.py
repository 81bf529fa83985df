#!/usr/bin/env python3
"""Writes the small reference files under Tests/Fixtures/ that pin external semantics.

Run with Debian's python3 (python3-h5py, python3-torch): `make fixtures`. The outputs are
committed, so tests never need Python packages. Each fixture is deterministic.
"""
import os
import sys

import h5py
import numpy as np

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "Fixtures")


def h5py_interop():
    """A file written by h5py with every element type and attribute kind the Swift wrapper reads."""
    path = os.path.join(OUT, "h5py_interop.h5")
    with h5py.File(path, "w") as f:
        f.create_dataset("float32", data=np.arange(12, dtype=np.float32).reshape(3, 4) / 8 - 0.5)
        f.create_dataset("float64", data=np.array([1e-300, -2.5, np.pi], dtype=np.float64))
        f.create_dataset("int32", data=np.array([[-7, 0], [2**31 - 1, -2**31]], dtype=np.int32))
        f.create_dataset("int64", data=np.array([2**40, -3], dtype=np.int64))
        f.create_dataset("uint8", data=np.array([0, 128, 255], dtype=np.uint8))
        f.create_dataset("group/chunked", data=np.arange(1000, dtype=np.float32).reshape(100, 10),
                         chunks=(16, 10), compression="gzip", compression_opts=4, shuffle=True)
        f.attrs["vlen_string"] = "Ankle boot ✓"          # h5py stores str as variable-length UTF-8
        f.attrs["fixed_string"] = np.bytes_(b"fixed")    # fixed-length ASCII
        f.attrs["int"] = np.int64(-42)
        f.attrs["double"] = 0.125
        f["float32"].attrs["unit"] = "logit"
    print("wrote", path)


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    what = sys.argv[1:] or ["h5py_interop"]
    for name in what:
        globals()[name]()
