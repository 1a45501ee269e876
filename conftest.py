"""Test-session set-up shared by the unit tests and the notebooks that nbval executes.

The suite runs on two cores with two pytest-xdist workers; each worker and each notebook kernel
it starts uses one thread (the book's models are small: extra threads only contend).
"""
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import torch  # noqa: E402

torch.set_num_threads(1)
