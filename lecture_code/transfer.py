"""Transfer learning at lecture scale: pretrain a small CNN once, reuse it on new tasks.

The slides' recipe (Donahue et al. 2014, *DeCAF*; Razavian et al. 2014, *CNN features
off-the-shelf*): (1) train a ConvNet on a large source data set; (2) on a small target data set
keep the network and retrain only its last layer (a linear classifier on the features), or
(3) with more data fine-tune more layers. ImageNet and VGG-16 do not fit in a notebook's budget,
so this module provides the same pieces, small:

* :class:`SmallCNN` — a VGG-like or ResNet-like network of four *stages* (~150k parameters) for
  16×16 grey images, with :meth:`~SmallCNN.features`, :meth:`~SmallCNN.freeze_until`,
  :meth:`~SmallCNN.unfreeze` and :meth:`~SmallCNN.new_head` (the linear probe).
* :func:`textured_shapes` — the *source task*: 48 classes of textured shapes (8 shapes × 6
  textures) drawn by code, deterministic by seed. 38 classes are used for pretraining; the 10
  held-out combinations are the "very similar" target (:data:`HELD_OUT`).
* :func:`target_task` — the four cells of the slide's 2×2 table: similar/different data ×
  little/a lot of it. "Very different" is scikit-learn's handwritten digits, upsampled to 16×16.
* :func:`load_pretrained` — weights from a name, a file or a URL (torch.hub style, with a
  sha256 check), validated completely before anything is loaded.
The long runs are commands of :mod:`lecture_code.bench.transfer`:
``python -m lecture_code.bench transfer pretrain --out PATH [--quick]`` and
``python -m lecture_code.bench transfer table --out benchmarks/transfer_table.csv``.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import re
import struct
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ._checks import check_choice, check_int
from .training import train

#: Side length of the images every model of this module takes.
SIZE = 16
SHAPES = ("disc", "square", "triangle", "cross", "ring", "bar", "diamond", "ell")
TEXTURES = ("solid", "horizontal stripes", "vertical stripes", "diagonal stripes", "checker", "dots")
#: Class ``k`` is shape ``k // 6`` with texture ``k % 6``.
NUM_SHAPE_CLASSES = len(SHAPES) * len(TEXTURES)
#: The 10 shape/texture combinations never seen in pretraining: the "very similar" target task.
HELD_OUT = tuple(s * len(TEXTURES) + t for s in range(len(SHAPES)) for t in range(len(TEXTURES))
                 if (s + t) % 5 == 0)
#: The 38 classes of the source (pretraining) task.
SOURCE_CLASSES = tuple(k for k in range(NUM_SHAPE_CLASSES) if k not in HELD_OUT)
WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
#: Named pretrained weights shipped with the package: file name and its sha256.
PRETRAINED = {
    "vgg-shapes16": {"file": "vgg_shapes16.safetensors",
                     "sha256": "f40a8643ec88d578c79ef2df852de8e260ab9b5a2af5d6c59c05e00e1030ed25"},
}


# ------------------------------------------------------------------------------- the model
class _Residual(nn.Module):
    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1)
        self.skip = nn.Identity() if c_in == c_out else nn.Conv2d(c_in, c_out, 1)
        nn.init.zeros_(self.conv2.weight)  # each block starts as (almost) the identity

    def forward(self, x):
        return F.relu(self.skip(x) + self.conv2(F.relu(self.conv1(x))))


def _stage(arch: str, c_in: int, c_out: int, convs: int, pool: bool) -> nn.Sequential:
    layers: list[nn.Module] = []
    if arch == "vgg":
        for i in range(convs):
            layers += [nn.Conv2d(c_in if i == 0 else c_out, c_out, 3, padding=1), nn.ReLU()]
    else:
        layers.append(_Residual(c_in, c_out) if convs > 1 else
                      nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1), nn.ReLU()))
    if pool:
        layers.append(nn.MaxPool2d(2))
    return nn.Sequential(*layers)


class SmallCNN(nn.Module):
    """Four stages of 3×3 convolutions, then global average pooling and a linear head.

    ``arch="vgg"``: stage ``k`` is ``[conv-ReLU] × n_k`` then 2×2 max pooling (16→8→4→2), as in
    VGG; ``arch="resnet"``: the two-conv stages are residual blocks ``relu(x + F(x))``. Widths
    ``(16, 32, 64, 128)`` give about 150k parameters. Inputs are (N, 1, 16, 16) in [0, 1].
    """

    def __init__(self, arch: str = "vgg", num_classes: int = len(SOURCE_CLASSES),
                 in_channels: int = 1, widths: tuple[int, ...] = (16, 32, 64, 128)):
        super().__init__()
        self.arch = check_choice("arch", arch, ("vgg", "resnet"))
        check_int("num_classes", num_classes, low=2)
        check_int("in_channels", in_channels, low=1)
        if len(widths) != 4:
            raise ValueError(f"widths={widths!r} must have 4 entries (one per stage)")
        self.widths = tuple(check_int(f"widths[{i}]", w, low=1) for i, w in enumerate(widths))
        self.in_channels = in_channels
        convs, channels = (1, 2, 2, 1), (in_channels, *self.widths)
        self.stages = nn.ModuleList(
            _stage(arch, channels[k], channels[k + 1], convs[k], pool=k < 3) for k in range(4))
        self.head = nn.Linear(self.widths[-1], num_classes)
        self.frozen_stages = 0

    @property
    def num_stages(self) -> int:
        return len(self.stages)

    def config(self) -> dict:
        """What is needed to rebuild this architecture (stored in the weights file)."""
        return {"arch": self.arch, "num_classes": self.head.out_features,
                "in_channels": self.in_channels, "widths": list(self.widths)}

    def features(self, x: torch.Tensor, stage: int | None = None, *, pooled: bool = False,
                 start: int = 0) -> torch.Tensor:
        """The activations after stage ``stage`` (1..4; default the last), from the input, or from
        the output of stage ``start`` when ``x`` is that. ``pooled=True`` averages them over
        space to one vector per image (the last stage's pooled features are the head's input)."""
        stage = self.num_stages if stage is None else check_int("stage", stage, low=0,
                                                                   high=self.num_stages)
        check_int("start", start, low=0, high=stage)
        if start == 0:
            x = (x - 0.5) / 0.25  # fixed input scaling, part of the model
        for block in self.stages[start:stage]:
            x = block(x)
        return x.mean(dim=(-2, -1)) if pooled else x

    def forward(self, x: torch.Tensor, start: int = 0) -> torch.Tensor:
        return self.head(self.features(x, pooled=True, start=start))

    def freeze_until(self, stage: int) -> "SmallCNN":
        """Freeze stages ``1..stage`` (no gradients, kept in eval mode); train the rest.

        ``stage=0`` unfreezes everything, ``stage=4`` leaves only the head: a linear probe.
        """
        self.frozen_stages = check_int("stage", stage, low=0, high=self.num_stages)
        for k, block in enumerate(self.stages):
            for p in block.parameters():
                p.requires_grad_(k >= stage)
        self.train(self.training)
        return self

    def unfreeze(self) -> "SmallCNN":
        """Make every parameter trainable again."""
        return self.freeze_until(0)

    def train(self, mode: bool = True):
        super().train(mode)
        for block in self.stages[:self.frozen_stages]:
            block.eval()  # frozen layers behave as at inference (matters for BN/dropout)
        return self

    def new_head(self, num_classes: int, generator: torch.Generator | None = None) -> "SmallCNN":
        """Replace the classifier by a fresh linear layer for ``num_classes`` classes."""
        check_int("num_classes", num_classes, low=2)
        head = nn.Linear(self.widths[-1], num_classes)
        if generator is not None:
            bound = 1 / math.sqrt(self.widths[-1])
            with torch.no_grad():
                head.weight.uniform_(-bound, bound, generator=generator)
                head.bias.uniform_(-bound, bound, generator=generator)
        self.head = head.to(next(self.parameters()).device)
        return self


def trainable_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


# ------------------------------------------------------------------------- the source task
def _shape_sdf(shape: torch.Tensor, u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Signed distance-like function (< 0 inside) of each shape in local coordinates."""
    au, av = u.abs(), v.abs()
    r = torch.sqrt(u ** 2 + v ** 2)
    sdf = torch.stack([
        r - 0.95,                                                             # disc
        torch.maximum(au, av) - 0.8,                                          # square
        torch.maximum(torch.maximum(v - 0.7, -0.87 * u - 0.5 * v - 0.45),      # triangle
                      0.87 * u - 0.5 * v - 0.45) * 1.0,
        torch.minimum(torch.maximum(au - 0.95, av - 0.32),                    # cross
                      torch.maximum(au - 0.32, av - 0.95)),
        (r - 0.7).abs() - 0.28,                                               # ring
        torch.maximum(au - 1.0, av - 0.35),                                   # bar
        au + av - 1.05,                                                       # diamond
        torch.minimum(torch.maximum((u + 0.55).abs() - 0.3, av - 0.9),         # ell
                      torch.maximum(au - 0.85, (v - 0.6).abs() - 0.3)),
    ])
    return sdf.gather(0, shape.view(1, -1, 1, 1).expand(1, *u.shape)).squeeze(0)


def _texture(texture: torch.Tensor, x: torch.Tensor, y: torch.Tensor, freq, phase) -> torch.Tensor:
    w = 2 * math.pi * freq
    sx, sy = torch.sin(w * x + phase), torch.sin(w * y + phase)
    tex = torch.stack([
        torch.ones_like(x),                                   # solid
        0.5 + 0.5 * sy,                                       # horizontal stripes
        0.5 + 0.5 * sx,                                       # vertical stripes
        0.5 + 0.5 * torch.sin(w * (x + y) / math.sqrt(2) + phase),  # diagonal stripes
        (sx * sy > 0).to(x.dtype),                            # checker
        ((torch.cos(w * x + phase) * torch.cos(w * y + phase)) > 0.5).to(x.dtype),  # dots
    ])
    return tex.gather(0, texture.view(1, -1, 1, 1).expand(1, *x.shape)).squeeze(0)


def textured_shapes(labels, seed: int = 0, size: int = SIZE) -> torch.Tensor:
    """Draw one image (1, size, size) in [0, 1] per class label in ``labels`` (0..47).

    Recipe: a shape (``SHAPES[label // 6]``) at a random position (±0.25 of the half-width),
    scale (0.45–0.75 of the half-width) and tilt (±20°), filled with a texture
    (``TEXTURES[label % 6]``; period 4–6 pixels, random phase), contrast 0.5–1 over a random
    background level 0–0.3, plus Gaussian noise of standard deviation 0.05. Same labels and
    seed, same images.
    """
    labels = torch.as_tensor(labels, dtype=torch.int64).view(-1)
    if len(labels) and (labels.min() < 0 or labels.max() >= NUM_SHAPE_CLASSES):
        raise ValueError(f"labels must lie in [0, {NUM_SHAPE_CLASSES - 1}]")
    check_int("size", size, low=4)
    g = torch.Generator().manual_seed(check_int("seed", seed, low=0))
    n = len(labels)

    def u(lo, hi):
        return (lo + (hi - lo) * torch.rand(n, generator=g)).view(n, 1, 1)

    cx, cy, scale = u(-0.25, 0.25), u(-0.25, 0.25), u(0.45, 0.75)
    tilt = torch.deg2rad(u(-20, 20))
    freq, phase = size / u(4.0, 6.0) / 2, u(0, 2 * math.pi)
    contrast, background = u(0.5, 1.0), u(0.0, 0.3)
    noise = torch.randn(n, size, size, generator=g)
    coords = torch.linspace(-1, 1, size)
    y, x = torch.meshgrid(coords, coords, indexing="ij")
    x, y = x.expand(n, size, size), y.expand(n, size, size)
    du, dv = (x - cx) / scale, (y - cy) / scale
    lu = torch.cos(tilt) * du + torch.sin(tilt) * dv
    lv = -torch.sin(tilt) * du + torch.cos(tilt) * dv
    sdf = _shape_sdf(labels // len(TEXTURES), lu, lv)
    mask = torch.sigmoid(-sdf * scale * size / 1.5)  # about one pixel of soft edge
    tex = _texture(labels % len(TEXTURES), x, y, freq, phase)
    img = background + mask * contrast * (0.25 + 0.75 * tex) + 0.05 * noise
    return img.clamp(0, 1).unsqueeze(1)


def shapes_dataset(classes, per_class: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``per_class`` images of each class in ``classes``; labels renumbered ``0..len(classes)-1``."""
    check_int("per_class", per_class, low=1)
    classes = torch.as_tensor(classes, dtype=torch.int64)
    y = torch.arange(len(classes)).repeat_interleave(per_class)
    return textured_shapes(classes[y], seed=seed), y


def _digits16() -> tuple[torch.Tensor, torch.Tensor]:
    from sklearn.datasets import load_digits
    bunch = load_digits()
    x = torch.as_tensor(bunch.images, dtype=torch.float32)[:, None] / 16
    x = F.interpolate(x, size=(SIZE, SIZE), mode="bilinear", align_corners=False).clamp(0, 1)
    return x, torch.as_tensor(bunch.target, dtype=torch.int64)


#: Training set sizes of the 2×2 table (images in total; 10 classes in every target task).
AMOUNTS = {"little": 50, "lot": 1000}


def target_task(similarity: str, amount: str, seed: int = 0) -> dict:
    """One cell of the slide's table: ``similarity`` in {"similar", "different"}, ``amount`` in
    {"little", "lot"} (:data:`AMOUNTS` training images), with a fixed validation set of 500.

    "similar": the 10 held-out shape classes (:data:`HELD_OUT`), freshly drawn; "different":
    scikit-learn's digits upsampled to 16×16 (the last 497 digits validate). ``seed`` picks which
    training images are used (and draws them, for the shapes).
    """
    check_choice("similarity", similarity, ("similar", "different"))
    check_choice("amount", amount, tuple(AMOUNTS))
    n = AMOUNTS[amount]
    if similarity == "similar":
        x_train, y_train = shapes_dataset(HELD_OUT, n // 10, seed=10_000 + seed)
        order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
        x_train, y_train = x_train[order], y_train[order]  # classes mixed, as for the digits
        x_val, y_val = shapes_dataset(HELD_OUT, 50, seed=99_999)
    else:
        x, y = _digits16()
        x_val, y_val = x[-497:], y[-497:]
        index = torch.randperm(len(y) - 497, generator=torch.Generator().manual_seed(seed))[:n]
        x_train, y_train = x[index], y[index]
    return {"train": (x_train, y_train), "val": (x_val, y_val), "num_classes": 10}


# ------------------------------------------------------------------------- saving, loading
def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def save_weights(model: SmallCNN, path, extra: dict | None = None) -> str:
    """Write ``model``'s weights as safetensors with its architecture in the file's metadata;
    returns the file's sha256."""
    from safetensors.torch import save_file
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    metadata = {"config": json.dumps(model.config()), **{k: str(v) for k, v in (extra or {}).items()}}
    save_file(tensors, str(path), metadata=metadata)
    return _sha256(path.read_bytes())


def _read_safetensors(data: bytes, where: str) -> tuple[dict, dict]:
    """Tensors and metadata of a safetensors file's bytes; ValueError if it is not one."""
    from safetensors.torch import load
    try:
        (n,) = struct.unpack("<Q", data[:8])
        header = json.loads(data[8:8 + n])
        tensors = load(data)
    except Exception as error:  # struct.error, JSONDecodeError, SafetensorError, ...
        raise ValueError(f"{where} is not a valid safetensors file (corrupted or truncated?): "
                         f"{type(error).__name__}: {error}") from None
    return tensors, header.get("__metadata__", {}) or {}


def _fetch(url: str, sha256: str | None) -> tuple[Path, str | None]:
    """torch.hub-style download into ``<hub dir>/checkpoints`` (kept as a cache).

    As in :func:`torch.hub.load_state_dict_from_url`, a file name ``name-<hex>.ext`` promises
    that its sha256 starts with ``<hex>``.
    """
    from urllib.parse import urlparse
    name = os.path.basename(urlparse(url).path)
    target = Path(torch.hub.get_dir()) / "checkpoints" / name
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        torch.hub.download_url_to_file(url, str(target), progress=False)
    if sha256 is None:
        match = re.search(r"-([a-f0-9]{8,64})\.", name)
        sha256 = match.group(1) if match else None
    return target, sha256


def load_pretrained(source: str | os.PathLike = "vgg-shapes16", *, sha256: str | None = None,
                    model: SmallCNN | None = None) -> SmallCNN:
    """A :class:`SmallCNN` with pretrained weights from a name, a local file or a URL.

    * a name of :data:`PRETRAINED` (e.g. ``"vgg-shapes16"``, shipped in ``lecture_code/weights``);
    * a path to a ``.safetensors`` file written by :func:`save_weights`;
    * an ``http(s)://`` or ``file://`` URL, downloaded once into torch.hub's cache
      (``torch.hub.get_dir()/checkpoints``), as model zoos do.

    ``sha256`` (a full hash or a prefix) is checked against the file's bytes before anything
    else; for names it is the registered hash, for URLs it defaults to the ``-<hex>`` part of the
    file name. The architecture comes from the file's metadata unless ``model`` is given. Every
    tensor's name and shape is checked before loading, so a failure raises ValueError and never
    leaves a half-loaded model.
    """
    source = str(source)
    if source in PRETRAINED:
        entry = PRETRAINED[source]
        path, sha256 = WEIGHTS_DIR / entry["file"], sha256 or entry["sha256"]
    elif re.match(r"^(https?|file)://", source):
        path, sha256 = _fetch(source, sha256)
    else:
        path = Path(source)
        if not path.exists():
            raise ValueError(f"source={source!r} is neither a known name "
                             f"({', '.join(PRETRAINED)}), a URL, nor an existing file")
    data = Path(path).read_bytes()
    digest = _sha256(data)
    if sha256 is not None and not digest.startswith(sha256.lower()):
        raise ValueError(f"sha256 mismatch for {path}: expected {sha256}, the file has {digest}. "
                         f"The file is corrupted or not the one that was published; delete it "
                         f"and download it again.")
    tensors, metadata = _read_safetensors(data, str(path))
    if model is None:
        try:
            config = json.loads(metadata["config"])
            model = SmallCNN(arch=config["arch"], num_classes=config["num_classes"],
                             in_channels=config["in_channels"], widths=tuple(config["widths"]))
        except (KeyError, TypeError, json.JSONDecodeError) as error:
            raise ValueError(f"{path} has no usable architecture metadata ({error!r}); pass "
                             f"model=SmallCNN(...) to say which network the weights belong to") from None
    expected = model.state_dict()
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    wrong = [f"{k}: file {tuple(tensors[k].shape)} vs model {tuple(v.shape)}"
             for k, v in expected.items() if k in tensors and tensors[k].shape != v.shape]
    if missing or unexpected or wrong:
        raise ValueError(f"the weights in {path} do not fit the model: missing {missing}, "
                         f"unexpected {unexpected}, wrong shapes {wrong}")
    model.load_state_dict({k: v.to(expected[k].dtype) for k, v in tensors.items()}, strict=True)
    return model


# ---------------------------------------------------------------------------- pretraining
class _FromStage(nn.Module):
    """``model(x, start=stage)`` as a module: the trainable top of a partly frozen network."""

    def __init__(self, model: nn.Module, start: int):
        super().__init__()
        self.model, self.start = model, start

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x, start=self.start)


def _fit(model: nn.Module, x, y, *, steps: int, batch_size: int, lr: float, seed: int) -> None:
    """Adam on mini-batches for a fixed number of ``steps`` (the table's fixed budget).

    The book's one loop, :func:`lecture_code.training.train`, without its per-epoch evaluation
    (only the accuracy at the end of the budget counts).
    """
    from .optimizers import Adam
    optimizer = Adam([p for p in model.parameters() if p.requires_grad], lr=lr)
    train(model, optimizer, (x, y), epochs=None, max_steps=steps, batch_size=batch_size,
          generator=torch.Generator().manual_seed(seed), quiet=True, epoch_metrics=False)


@torch.no_grad()
def _accuracy(forward, x, y) -> float:
    return (forward(x).argmax(1) == y).float().mean().item()


def pretrain(*, arch: str = "vgg", seed: int = 0, per_class: int = 250, steps: int = 1500,
             batch_size: int = 64, lr: float = 2e-3) -> tuple[SmallCNN, dict]:
    """Train a :class:`SmallCNN` on the 38 source classes; returns it and a record of the run."""
    torch.manual_seed(seed)
    model = SmallCNN(arch=arch, num_classes=len(SOURCE_CLASSES))
    x, y = shapes_dataset(SOURCE_CLASSES, per_class, seed=seed)
    x_val, y_val = shapes_dataset(SOURCE_CLASSES, 20, seed=seed + 50_000)
    start = time.time()
    _fit(model, x, y, steps=steps, batch_size=batch_size, lr=lr, seed=seed)
    model.eval()
    record = {
        "seed": seed, "arch": arch, "parameters": sum(p.numel() for p in model.parameters()),
        "data": {"generator": "lecture_code.transfer.textured_shapes", "classes": list(SOURCE_CLASSES),
                 "held_out_classes": list(HELD_OUT), "per_class": per_class, "train_seed": seed,
                 "val_seed": seed + 50_000, "val_per_class": 20, "size": SIZE},
        "training": {"optimizer": "lecture_code.optimizers.Adam", "lr": lr, "steps": steps,
                     "batch_size": batch_size},
        "source_val_accuracy": round(_accuracy(model, x_val, y_val), 4),
        "seconds": round(time.time() - start, 1), "torch": torch.__version__,
    }
    return model, record


# ------------------------------------------------------------------------ the 2×2 table
METHODS = ("linear probe", "fine-tune top", "fine-tune all", "from scratch")
#: Adam's learning rate per method: the probe trains one linear layer (a larger step is safe).
METHOD_LR = {"linear probe": 1e-2, "fine-tune top": 1e-3, "fine-tune all": 1e-3, "from scratch": 2e-3}
#: Frozen stages per method; "fine-tune top" retrains the last two stages and the head.
FROZEN = {"linear probe": 4, "fine-tune top": 2, "fine-tune all": 0, "from scratch": 0}


def run_method(method: str, task: dict, pretrained: SmallCNN | None, *, seed: int,
               steps: int, batch_size: int = 32) -> float:
    """Validation accuracy of one method on one target task after ``steps`` Adam steps."""
    check_choice("method", method, METHODS)
    torch.manual_seed(seed)
    if method == "from scratch":
        model = SmallCNN(arch=pretrained.arch if pretrained else "vgg", num_classes=task["num_classes"])
    else:
        model = SmallCNN(**{**pretrained.config(), "num_classes": task["num_classes"]})
        state = {k: v for k, v in pretrained.state_dict().items() if not k.startswith("head.")}
        model.load_state_dict(state, strict=False)
        model.new_head(task["num_classes"], generator=torch.Generator().manual_seed(seed))
    frozen = FROZEN[method]
    model.freeze_until(frozen)
    (x, y), (x_val, y_val) = task["train"], task["val"]
    if frozen:  # frozen stages are a fixed function: compute their output once
        with torch.no_grad():
            model.eval()
            x, x_val = model.features(x, frozen), model.features(x_val, frozen)
    forward = _FromStage(model, frozen)
    _fit(forward, x, y, steps=steps, batch_size=batch_size, lr=METHOD_LR[method], seed=seed)
    model.eval()
    return _accuracy(forward, x_val, y_val)


def stage_probe(pretrained: SmallCNN, task: dict, *, steps: int = 300, lr: float = 1e-2,
                seed: int = 0) -> dict[int, float]:
    """Linear classifiers on the (spatially averaged) output of each stage: validation accuracy
    per stage — the slide's advice for "very different data, very little of it"."""
    (x, y), (x_val, y_val) = task["train"], task["val"]
    result = {}
    pretrained.eval()
    for stage in range(1, pretrained.num_stages + 1):
        with torch.no_grad():
            f = pretrained.features(x, stage)
            f_val = pretrained.features(x_val, stage)
            # 2×2 average pooling keeps a little layout for the early, spatial stages
            f = F.adaptive_avg_pool2d(f, 2).flatten(1)
            f_val = F.adaptive_avg_pool2d(f_val, 2).flatten(1)
            mean, std = f.mean(0), f.std(0) + 1e-6
            f, f_val = (f - mean) / std, (f_val - mean) / std
        torch.manual_seed(seed)
        probe = nn.Linear(f.shape[1], task["num_classes"])
        _fit(probe, f, y, steps=steps, batch_size=len(y), lr=lr, seed=seed)
        result[stage] = _accuracy(probe, f_val, y_val)
    return result


STEPS = {"little": 150, "lot": 400}


def transfer_table(pretrained: SmallCNN, *, seeds=(0, 1, 2), steps: dict | None = None,
                   amounts: dict | None = None, progress: bool = True) -> list[dict]:
    """Every method on every cell of the 2×2 table over ``seeds``; one row per (cell, method)."""
    steps = steps or STEPS
    rows = []
    for similarity in ("similar", "different"):
        for amount in ("little", "lot"):
            per_method = {m: [] for m in METHODS}
            for seed in seeds:
                task = target_task(similarity, amount, seed=seed)
                if amounts:
                    x, y = task["train"]
                    task["train"] = (x[:amounts[amount]], y[:amounts[amount]])
                for method in METHODS:
                    per_method[method].append(run_method(method, task, pretrained, seed=seed,
                                                         steps=steps[amount]))
            for method, accs in per_method.items():
                rows.append({"similarity": similarity, "amount": amount,
                             "n_train": len(task["train"][1]), "method": method,
                             "steps": steps[amount], "accuracy_mean": round(float(np.mean(accs)), 4),
                             "accuracy_std": round(float(np.std(accs)), 4),
                             "accuracies": " ".join(f"{a:.4f}" for a in accs)})
                if progress:
                    print(f"{similarity:9s} {amount:6s} {method:14s} "
                          f"{np.mean(accs):.3f} ± {np.std(accs):.3f}", flush=True)
    return rows


SLIDE_ADVICE = {
    ("similar", "little"): "Use linear classifier on top layer",
    ("similar", "lot"): "Finetune a few layers",
    ("different", "little"): "You're in trouble; try linear classifiers from different stages",
    ("different", "lot"): "Finetune a larger number of layers",
}
