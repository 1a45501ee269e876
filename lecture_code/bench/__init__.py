"""Benchmarks and long experiments: ``python -m lecture_code.bench <name> [options]``.

Each sub-command is a module of this package with a ``main(argv)`` function; results go under
``benchmarks/`` (CSV, Markdown and PNG), together with the command line that made them, the
machine's core count and the torch version, so that the numbers in the book can be re-run.
"""
from __future__ import annotations

import os
import platform
import sys
from datetime import datetime, timezone
from pathlib import Path

import torch

#: Where committed results live (the repository's ``benchmarks/`` folder).
RESULTS = Path(__file__).resolve().parents[2] / "benchmarks"


def provenance() -> str:
    """A Markdown paragraph saying how and where a result was produced."""
    command = "python -m lecture_code.bench " + " ".join(sys.argv[1:])
    return (f"Command: `{command}`  \n"
            f"Machine: {os.cpu_count()} CPU cores ({platform.processor() or platform.machine()}), "
            f"torch {torch.__version__}, {torch.get_num_threads()} threads"
            f"{', GPU ' + torch.cuda.get_device_name() if torch.cuda.is_available() else ''}  \n"
            f"Date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC\n")
