"""Package layout; the metadata is in pyproject.toml.

The repository's ``benchmarks/`` folder (committed results that the chapters read) is installed
as ``lecture_code/benchmarks``, so that ``pip install`` (Colab) carries the results with the
code; the repository keeps one copy, in ``benchmarks/``. pyproject.toml cannot add a package
that lives outside ``lecture_code/`` to the packages it finds, hence this file.
"""
from setuptools import find_namespace_packages, setup

setup(packages=find_namespace_packages(include=["lecture_code*"]) + ["lecture_code.benchmarks"],
      package_dir={"lecture_code.benchmarks": "benchmarks"})
