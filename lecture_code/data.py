"""The book's offline data sets: everything is shipped by an installed package or generated here.

* :func:`digits` — scikit-learn's 8×8 handwritten digits (1797 images, shipped with sklearn).
* :func:`mnist1d` — MNIST-1D (Greydanus 2020), made by the ``mnist1d`` package's *local*
  generator; its download helper is never called.
* :func:`cifar10` — CIFAR-10 read from a folder the user already has (python-pickle layout),
  for the GPU-sized comparison; never downloaded.

The first two return a :class:`Split` of float32 features and int64 labels, standardised with the
training set's statistics only (the validation set must not leak into preprocessing).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ._checks import check_int, check_real


@dataclass(frozen=True)
class Split:
    """Training and validation tensors of one data set."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    num_classes: int

    @property
    def train(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.x_train, self.y_train

    @property
    def val(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.x_val, self.y_val

    def to(self, device) -> "Split":
        """The same split with every tensor on ``device``."""
        return Split(self.x_train.to(device), self.y_train.to(device), self.x_val.to(device),
                     self.y_val.to(device), self.num_classes)

    def subset(self, n_train: int, seed: int = 0) -> "Split":
        """Keep a random (seeded) subset of ``n_train`` training examples; validation unchanged."""
        check_int("n_train", n_train, low=1, high=len(self.y_train))
        index = torch.randperm(len(self.y_train), generator=torch.Generator().manual_seed(seed))[:n_train]
        return Split(self.x_train[index], self.y_train[index], self.x_val, self.y_val, self.num_classes)


def _split(x: np.ndarray, y: np.ndarray, val_fraction: float, seed: int, standardize: bool,
           num_classes: int) -> Split:
    check_real("val_fraction", val_fraction, low=0.0, high=1.0, low_open=True, high_open=True)
    order = np.random.default_rng(seed).permutation(len(y))
    n_val = int(round(val_fraction * len(y)))
    val, train = order[:n_val], order[n_val:]
    x = torch.as_tensor(x, dtype=torch.float32)
    y = torch.as_tensor(y, dtype=torch.int64)
    x_train, x_val = x[train], x[val]
    if standardize:
        mean, std = x_train.mean(), x_train.std()
        x_train, x_val = (x_train - mean) / std, (x_val - mean) / std
    return Split(x_train, y[train], x_val, y[val], num_classes)


def digits(*, val_fraction: float = 0.25, seed: int = 0, images: bool = False,
           standardize: bool = True) -> Split:
    """scikit-learn's digits: 1797 grey 8×8 images of the digits 0–9.

    ``images=False`` gives flat vectors of 64 features, ``images=True`` tensors of shape
    (N, 1, 8, 8) for convolutional networks.
    """
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = bunch.images[:, None] if images else bunch.data
    return _split(x, bunch.target, val_fraction, seed, standardize, num_classes=10)


def mnist1d(*, num_samples: int = 4000, val_fraction: float = 0.2, seed: int = 0,
            standardize: bool = True) -> Split:
    """MNIST-1D: 10 classes of 40-sample 1-D signals, generated locally (about 1 s for 4000).

    The generator's own seed is ``seed``; the train/validation split is drawn with the same seed.
    """
    check_int("num_samples", num_samples, low=20)
    from mnist1d.data import get_dataset_args, make_dataset

    args = get_dataset_args()
    args.num_samples = num_samples
    args.seed = seed
    data = make_dataset(args)  # the local generator; never ``get_dataset`` (it downloads)
    x = np.concatenate([data["x"], data["x_test"]])
    y = np.concatenate([data["y"], data["y_test"]])
    return _split(x, y, val_fraction, seed, standardize, num_classes=10)


#: The files of CIFAR-10's "python version" (Krizhevsky 2009), in the folder its archive unpacks to.
CIFAR10_FOLDER = "cifar-10-batches-py"
CIFAR10_FILES = tuple(f"data_batch_{k}" for k in range(1, 6)) + ("test_batch",)


def _cifar10_batch(path) -> tuple[np.ndarray, np.ndarray]:
    import pickle

    with open(path, "rb") as f:
        try:
            batch = pickle.load(f, encoding="bytes")
        except Exception as error:   # a truncated or foreign file: say which one
            raise ValueError(f"data_dir: {path} is not a CIFAR-10 python batch ({error})") from error
    if not isinstance(batch, dict) or b"data" not in batch or b"labels" not in batch:
        raise ValueError(f"data_dir: {path} has no b'data' and b'labels' entries; expected "
                         "the python-pickle layout of CIFAR-10")
    data = np.asarray(batch[b"data"], dtype=np.uint8)
    labels = np.asarray(batch[b"labels"], dtype=np.int64)
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or len(data) != len(labels):
        raise ValueError(f"data_dir: {path} holds data of shape {data.shape} and {len(labels)} "
                         "labels; expected (N, 3072) uint8 rows and N labels")
    return data.reshape(-1, 3, 32, 32), labels


def cifar10(data_dir) -> tuple[tuple[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
    """CIFAR-10 read from a local folder in the standard python-pickle layout (never downloaded).

    ``data_dir`` is the folder holding ``data_batch_1`` … ``data_batch_5`` and ``test_batch``,
    or the folder above it that holds ``cifar-10-batches-py/``. Returns ``(x_train, y_train),
    (x_test, y_test)``: float32 images of shape (N, 3, 32, 32), standardised per channel with
    the training images' statistics, and int64 labels 0–9. The files are Python pickles: read
    only copies you trust.
    """
    from pathlib import Path

    if not isinstance(data_dir, (str, Path)):
        raise TypeError(f"data_dir must be a path, got {data_dir!r} of type {type(data_dir).__name__}")
    folder = Path(data_dir)
    if (folder / CIFAR10_FOLDER).is_dir():
        folder = folder / CIFAR10_FOLDER
    missing = [name for name in CIFAR10_FILES if not (folder / name).is_file()]
    if missing:
        raise ValueError(f"data_dir={str(data_dir)!r} lacks {', '.join(missing)}: it must hold "
                         f"CIFAR-10's python batches {', '.join(CIFAR10_FILES)} (or a "
                         f"{CIFAR10_FOLDER}/ folder with them); this book never downloads them")
    parts = [_cifar10_batch(folder / name) for name in CIFAR10_FILES]
    x_train = torch.from_numpy(np.concatenate([x for x, _ in parts[:-1]])).float() / 255
    y_train = torch.from_numpy(np.concatenate([y for _, y in parts[:-1]]))
    x_test = torch.from_numpy(parts[-1][0]).float() / 255
    y_test = torch.from_numpy(parts[-1][1])
    if y_train.min() < 0 or y_train.max() > 9 or y_test.min() < 0 or y_test.max() > 9:
        raise ValueError(f"data_dir={str(data_dir)!r}: labels must lie in 0-9")
    mean = x_train.mean(dim=(0, 2, 3), keepdim=True)
    std = x_train.std(dim=(0, 2, 3), keepdim=True).clamp_min(1e-6)
    return ((x_train - mean) / std, y_train), ((x_test - mean) / std, y_test)
