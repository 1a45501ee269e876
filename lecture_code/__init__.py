"""Code for the course book *Optimization & Regularization for Deep Nets*.

Every chapter imports what it shows from here; every function is unit-tested in ``tests/``.
"""
from __future__ import annotations

import random

import numpy as np
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


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python's, NumPy's and torch's global generators and return a fresh torch generator.

    The book passes the returned generator explicitly wherever randomness matters (data order,
    dropout masks, augmentations) so that one cell's randomness does not depend on another's.
    """
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)
