"""Code for the course book *Optimization & Regularization for Deep Nets*.

Every chapter imports what it shows from here; every function is unit-tested in ``tests/``.
"""
from __future__ import annotations

import torch

__version__ = "0.1.0"


def device() -> torch.device:
    """The device the book's experiments run on: the first GPU when one is present, else the CPU.

    Nothing else in the package depends on the choice: models and tensors are moved with
    ``.to(lecture_code.device())``.
    """
    if torch.cuda.is_available():
        return torch.device("cuda")
    return torch.device("cpu")
