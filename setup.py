"""Build the Cython extensions in ``ext/``; all metadata lives in pyproject.toml.

Every ``ext/NAME.pyx`` becomes the module ``tsengine._native.NAME``. For quick
rebuilds during development, ``TSENGINE_BUILD_ONLY=_ring,_group`` limits the build to
the named modules.
"""

import os
from pathlib import Path

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup

HERE = Path(__file__).parent

extensions = [
    Extension(
        f"tsengine._native.{pyx.stem}",
        [str(pyx.relative_to(HERE))],
        include_dirs=[numpy.get_include(), "ext"],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
        extra_compile_args=["-O3"],
    )
    for pyx in sorted((HERE / "ext").glob("*.pyx"))
    if not os.environ.get("TSENGINE_BUILD_ONLY")
    or pyx.stem in os.environ["TSENGINE_BUILD_ONLY"].split(",")
]

setup(
    ext_modules=cythonize(
        extensions,
        compiler_directives={"language_level": "3", "embedsignature": True},
        include_path=["ext"],
    ),
)
