"""Benchmarks and long experiments: ``python -m lecture_code.bench <name> [options]``.

Each sub-command is a module of this package with a ``main(argv)`` function; results go under
``benchmarks/`` (CSV, Markdown and PNG), together with the command line that made them, the
machine's core count and the torch version, so that the numbers in the book can be re-run.
The chapters read them through :data:`RESULTS`.
"""
from __future__ import annotations

import os
import platform
import sys
from datetime import datetime, timezone
from pathlib import Path

import torch

_PACKAGE = Path(__file__).resolve().parents[1]
#: Where committed results live: the repository's ``benchmarks/`` folder in a source checkout
#: (and an editable install); ``pip install`` copies that folder's CSV and Markdown files into
#: the package as ``lecture_code/benchmarks`` (setup.py), which is used when it is there, so
#: the chapters find the results on Colab too.
RESULTS = (_PACKAGE / "benchmarks" if (_PACKAGE / "benchmarks").is_dir()
           else _PACKAGE.parent / "benchmarks")


def command_line() -> str:
    """The command that is running, as the reader would type it: ``python -m lecture_code.bench ...``."""
    return "python -m lecture_code.bench " + " ".join(sys.argv[1:])


def provenance() -> str:
    """A Markdown paragraph saying how and where a result was produced."""
    return (f"Command: `{command_line()}`  \n"
            f"Machine: {os.cpu_count()} CPU cores ({platform.processor() or platform.machine()}), "
            f"torch {torch.__version__}, {torch.get_num_threads()} threads"
            f"{', GPU ' + torch.cuda.get_device_name() if torch.cuda.is_available() else ''}  \n"
            f"Date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC\n")


def write_report(out: str | Path, lines: list[str]) -> None:
    """Write a result file (Markdown lines), creating its folder."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
