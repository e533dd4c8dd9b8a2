"""Build of the Cython hot paths: every extension under engine/_core (and the picows listener in
engine/gateway), directives set here only.

Switches (environment variables, read at build time):
  HFT_TRACE=1     compile with line tracing and profiling hooks, for the latency profilers
                  (slower; never use it for benchmarks or production).
  HFT_ANNOTATE=1  write Cython's HTML annotation next to each .pyx (yellow lines = Python calls).
"""

import os
from pathlib import Path

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup

TRACE = os.environ.get("HFT_TRACE") == "1"
ANNOTATE = os.environ.get("HFT_ANNOTATE") == "1"

# Release directives. boundscheck/wraparound are off for every module: each module indexes
# only preallocated buffers whose bounds are checked explicitly at the Python boundary, and
# the tests of that module drive those checks (see tests/test_*_bounds.py and the differential
# tests against the pure-Python reference implementations).
DIRECTIVES = {
    "language_level": 3,
    "boundscheck": False,
    "wraparound": False,
    "initializedcheck": False,
    "cdivision": True,  # C integer division (truncates toward zero); the references mirror it
    "embedsignature": True,
    "binding": TRACE,
    "linetrace": TRACE,
    "profile": TRACE,
}

MACROS: list[tuple[str, str | None]] = [("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")]
if TRACE:
    MACROS += [("CYTHON_TRACE", "1"), ("CYTHON_TRACE_NOGIL", "1")]

COMPILE_ARGS = ["-O3", "-fno-strict-aliasing"] if os.name != "nt" else ["/O2"]


def extensions() -> list[Extension]:
    root = Path(__file__).parent
    mods = []
    sources = [
        *(root / "engine" / "_core").glob("*.pyx"),
        *(root / "engine" / "gateway").glob("*.pyx"),
    ]
    for pyx in sorted(sources):
        name = ".".join(pyx.relative_to(root).with_suffix("").parts)
        mods.append(
            Extension(
                name,
                [str(pyx.relative_to(root))],
                include_dirs=[numpy.get_include(), "engine/_core"],
                define_macros=MACROS,
                extra_compile_args=COMPILE_ARGS,
            )
        )
    return mods


setup(
    ext_modules=cythonize(
        extensions(),
        compiler_directives=DIRECTIVES,
        annotate=ANNOTATE,
        nthreads=os.cpu_count() or 1,
    ),
    zip_safe=False,
)
