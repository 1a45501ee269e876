"""Data augmentation ("jittering") on image tensors: the slide's list, one small class each.

Every transform works on one image ``(C, H, W)`` or a batch ``(N, C, H, W)`` of floating-point
images with values in ``[0, 1]``, on whatever device the images live on. Each image of a batch
gets its own random draw. Randomness comes only from the ``generator`` passed to the call, so
that ``t(x, generator=torch.Generator().manual_seed(0))`` gives the same result every time::

    augment = Compose([RandomHorizontalFlip(), RandomResizedCrop((32, 32), scale=(0.6, 1.0)),
                       RandomBrightness((0.8, 1.2))])
    x_aug = augment(x, generator=g)

Each random class has a deterministic twin function (:func:`hflip`, :func:`rotate`,
:func:`resized_crop`, :func:`perspective`, :func:`adjust_brightness`, ...) that applies the
transform with given parameters; the tests compare those with kornia and scikit-image.

Geometry uses one mechanism, :func:`warp`: for every *output* pixel ``p = (x, y, 1)`` a 3×3
matrix ``M`` says where to read in the input, ``s = M p`` (divided by its third coordinate),
and bilinear interpolation (:func:`torch.nn.functional.grid_sample`) reads it there. Pixel
centres sit at integer coordinates, ``x = 0 .. W-1`` from left to right and ``y = 0 .. H-1``
from top to bottom; points outside the image read zeros.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ._checks import check_int, check_real

__all__ = ["Augmentation", "Compose", "RandomHorizontalFlip", "RandomResizedCrop", "RandomRotation",
           "RandomPerspective", "RandomBrightness", "RandomContrast", "RandomColorCast",
           "RandomGamma", "RandomSaturation", "AugmentedModel", "hflip", "rotate", "resized_crop",
           "perspective", "warp", "adjust_brightness", "adjust_contrast", "color_cast",
           "adjust_gamma", "adjust_saturation", "grayscale", "roll_signals", "RandomSignalJitter"]


# ----------------------------------------------------------------------------------- helpers
def check_range(name: str, value, *, low=None, high=None, low_open: bool = False) -> tuple[float, float]:
    """Check a pair ``(lo, hi)`` with ``lo <= hi``, both inside ``[low, high]``; return floats."""
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise TypeError(f"{name} must be a pair (low, high), got {value!r}")
    lo = check_real(f"{name}[0]", value[0], low=low, high=high, low_open=low_open)
    hi = check_real(f"{name}[1]", value[1], low=low, high=high, low_open=low_open)
    if lo > hi:
        raise ValueError(f"{name}={tuple(value)!r} is not a range: expected {name}[0] <= {name}[1]")
    return float(lo), float(hi)


def _as_batch(x: torch.Tensor) -> tuple[torch.Tensor, bool]:
    """``(C,H,W) -> (1,C,H,W)``; returns the batch and whether a dimension was added."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
    if x.dim() == 3:
        return x.unsqueeze(0), True
    if x.dim() == 4:
        return x, False
    raise ValueError(f"x has shape {tuple(x.shape)}: expected (C, H, W) or (N, C, H, W)")


def _check_float(x: torch.Tensor) -> None:
    if not x.is_floating_point():
        raise TypeError(f"x has dtype {x.dtype}: this transform needs floating-point images "
                        f"in [0, 1] (use x.float() / 255 for 8-bit images)")


def _uniform(n: int, low: float, high: float, generator, device, dtype) -> torch.Tensor:
    """``n`` draws of U(low, high) from ``generator`` (on its device), moved to ``device``."""
    where = generator.device if generator is not None else "cpu"
    u = torch.rand(n, generator=generator, device=where, dtype=torch.float64)
    return (low + (high - low) * u).to(device=device, dtype=dtype)


def _per_image(values, n: int, x: torch.Tensor) -> torch.Tensor:
    """A scalar or ``n`` values as a tensor of shape (n, 1, 1, 1) on ``x``'s device and dtype."""
    t = torch.as_tensor(values, dtype=x.dtype, device=x.device)
    if t.dim() == 0:
        t = t.expand(n)
    if t.shape != (n,):
        raise ValueError(f"expected a scalar or {n} per-image values, got shape {tuple(t.shape)}")
    return t.view(n, 1, 1, 1)


# ------------------------------------------------------------------------------- geometry
def warp(x: torch.Tensor, matrix: torch.Tensor, size: tuple[int, int] | None = None,
         mode: str = "bilinear", padding_mode: str = "zeros") -> torch.Tensor:
    """Resample ``x`` at ``s = M p`` for every output pixel ``p = (x, y, 1)`` (pixel units).

    ``matrix`` is (3, 3) or (N, 3, 3) and maps *output* pixel coordinates to *input* ones; a
    projective ``M`` is divided by the third coordinate. ``size=(H_out, W_out)`` (default the
    input size). Sampling follows ``grid_sample(..., align_corners=True)``: pixel centres at
    integers, so ``M = I`` returns ``x`` exactly.
    """
    batch, squeezed = _as_batch(x)
    _check_float(batch)
    n, _, h, w = batch.shape
    h_out, w_out = size if size is not None else (h, w)
    m = torch.as_tensor(matrix, dtype=batch.dtype, device=batch.device)
    if m.dim() == 2:
        m = m.expand(n, 3, 3)
    if m.shape != (n, 3, 3):
        raise ValueError(f"matrix has shape {tuple(m.shape)}: expected (3, 3) or ({n}, 3, 3)")
    ys, xs = torch.meshgrid(torch.arange(h_out, device=batch.device, dtype=batch.dtype),
                            torch.arange(w_out, device=batch.device, dtype=batch.dtype), indexing="ij")
    p = torch.stack([xs, ys, torch.ones_like(xs)], dim=-1)          # (H_out, W_out, 3)
    s = torch.einsum("nij,hwj->nhwi", m, p)
    s = s[..., :2] / s[..., 2:3]
    scale = torch.tensor([max(w - 1, 1), max(h - 1, 1)], dtype=batch.dtype, device=batch.device)
    grid = 2 * s / scale - 1                                        # align_corners=True units
    out = F.grid_sample(batch, grid, mode=mode, padding_mode=padding_mode, align_corners=True)
    return out[0] if squeezed else out


def hflip(x: torch.Tensor) -> torch.Tensor:
    """Mirror left–right: ``out[..., y, x] = in[..., y, W-1-x]``."""
    _as_batch(x)
    return x.flip(-1)


def _rotation_matrix(angle_deg: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """(N, 3, 3) output→input pixel map of a counter-clockwise rotation about the centre."""
    theta = torch.deg2rad(angle_deg)
    c, s = torch.cos(theta), torch.sin(theta)
    cx, cy = (w - 1) / 2, (h - 1) / 2
    m = torch.zeros(len(theta), 3, 3, dtype=theta.dtype, device=theta.device)
    # the image turns counter-clockwise on screen (y points down), so the output pixel p reads
    # the input at R(-angle)-ish coordinates: s = [[c, -s], [s, c]] (p - centre) + centre
    m[:, 0, 0], m[:, 0, 1] = c, -s
    m[:, 1, 0], m[:, 1, 1] = s, c
    m[:, 0, 2] = cx - c * cx + s * cy
    m[:, 1, 2] = cy - s * cx - c * cy
    m[:, 2, 2] = 1
    return m


def rotate(x: torch.Tensor, angle) -> torch.Tensor:
    """Rotate counter-clockwise by ``angle`` degrees (scalar or one per image) about the centre
    ``((W-1)/2, (H-1)/2)``, bilinear, zeros outside — kornia's ``rotate`` convention."""
    batch, squeezed = _as_batch(x)
    _check_float(batch)
    angle = _per_image(angle, len(batch), batch).view(-1)
    out = warp(batch, _rotation_matrix(angle, *batch.shape[-2:]))
    return out[0] if squeezed else out


def resized_crop(x: torch.Tensor, top, left, height, width, size: tuple[int, int]) -> torch.Tensor:
    """Cut the box whose corner pixels are ``(top, left)`` and ``(top+height-1, left+width-1)``
    and resize it to ``size=(H_out, W_out)`` (bilinear, corners onto corners).

    The box may be given per image (tensors of length N) and in fractional pixels. A box of the
    output's size is plain slicing, ``x[..., top:top+height, left:left+width]``.
    """
    batch, squeezed = _as_batch(x)
    _check_float(batch)
    n = len(batch)
    h_out, w_out = check_int("size[0]", size[0], low=1), check_int("size[1]", size[1], low=1)
    top, left, height, width = (_per_image(v, n, batch).view(-1) for v in (top, left, height, width))
    m = torch.zeros(n, 3, 3, dtype=batch.dtype, device=batch.device)
    m[:, 0, 0] = (width - 1) / max(w_out - 1, 1)
    m[:, 1, 1] = (height - 1) / max(h_out - 1, 1)
    m[:, 0, 2], m[:, 1, 2], m[:, 2, 2] = left, top, 1
    out = warp(batch, m, size=(h_out, w_out))
    return out[0] if squeezed else out


def homography(src: torch.Tensor, dst: torch.Tensor) -> torch.Tensor:
    """The (N, 3, 3) projective map that sends the 4 points ``src`` (N, 4, 2) onto ``dst``.

    Solves the 8×8 linear system of ``dst = (a x + b y + c, d x + e y + f) / (g x + h y + 1)``.
    """
    x, y = src[..., 0], src[..., 1]
    u, v = dst[..., 0], dst[..., 1]
    zeros, ones = torch.zeros_like(x), torch.ones_like(x)
    rows_u = torch.stack([x, y, ones, zeros, zeros, zeros, -u * x, -u * y], dim=-1)
    rows_v = torch.stack([zeros, zeros, zeros, x, y, ones, -v * x, -v * y], dim=-1)
    a = torch.cat([rows_u, rows_v], dim=1)                     # (N, 8, 8)
    b = torch.cat([u, v], dim=1)                               # (N, 8)
    h = torch.linalg.solve(a.double(), b.double()).to(src.dtype)
    return torch.cat([h, torch.ones_like(h[:, :1])], dim=1).view(-1, 3, 3)


def _corners(h: int, w: int, n: int, device, dtype) -> torch.Tensor:
    c = torch.tensor([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]], device=device, dtype=dtype)
    return c.expand(n, 4, 2)


def perspective(x: torch.Tensor, corners: torch.Tensor) -> torch.Tensor:
    """Geometric distortion: the output's four corners (top-left, top-right, bottom-right,
    bottom-left) show the input at the points ``corners`` (N, 4, 2) in (x, y) pixels."""
    batch, squeezed = _as_batch(x)
    _check_float(batch)
    n, _, h, w = batch.shape
    corners = torch.as_tensor(corners, dtype=batch.dtype, device=batch.device).expand(n, 4, 2)
    out = warp(batch, homography(_corners(h, w, n, batch.device, batch.dtype), corners))
    return out[0] if squeezed else out


# ---------------------------------------------------------------------------- photometric
def grayscale(x: torch.Tensor) -> torch.Tensor:
    """Luma ``0.299 R + 0.587 G + 0.114 B`` for 3 channels, the image itself for 1 channel."""
    if x.shape[-3] == 3:
        weights = torch.tensor([0.299, 0.587, 0.114], dtype=x.dtype, device=x.device)
        return (x * weights.view(3, 1, 1)).sum(dim=-3, keepdim=True)
    return x


def adjust_brightness(x: torch.Tensor, factor) -> torch.Tensor:
    """Scale the intensities, ``clip(f x, 0, 1)``; ``f = 1`` changes nothing, ``f = 0`` is black."""
    batch, squeezed = _as_batch(x)
    _check_float(batch)
    out = (batch * _per_image(factor, len(batch), batch)).clamp(0, 1)
    return out[0] if squeezed else out


def adjust_contrast(x: torch.Tensor, factor) -> torch.Tensor:
    """Stretch around the mean grey level ``m``: ``clip(m + f (x - m), 0, 1)`` (``f=0``: flat
    grey). ``m`` is the mean luma for 3 channels, the mean over all values otherwise."""
    batch, squeezed = _as_batch(x)
    _check_float(batch)
    mean = grayscale(batch).mean(dim=(-3, -2, -1), keepdim=True)
    f = _per_image(factor, len(batch), batch)
    out = (mean + f * (batch - mean)).clamp(0, 1)
    return out[0] if squeezed else out


def color_cast(x: torch.Tensor, shift) -> torch.Tensor:
    """Add a constant per channel, ``clip(x_c + delta_c, 0, 1)``; ``shift`` is (C,) or (N, C)."""
    batch, squeezed = _as_batch(x)
    _check_float(batch)
    n, c = batch.shape[:2]
    delta = torch.as_tensor(shift, dtype=batch.dtype, device=batch.device).expand(n, c)
    out = (batch + delta.view(n, c, 1, 1)).clamp(0, 1)
    return out[0] if squeezed else out


def adjust_gamma(x: torch.Tensor, gamma) -> torch.Tensor:
    """Photometric curve ``x ** gamma``: ``gamma < 1`` lifts the shadows, ``> 1`` darkens."""
    batch, squeezed = _as_batch(x)
    _check_float(batch)
    out = batch.clamp(0, 1) ** _per_image(gamma, len(batch), batch)
    return out[0] if squeezed else out


def adjust_saturation(x: torch.Tensor, factor) -> torch.Tensor:
    """Blend with the grey version, ``clip(g + f (x - g), 0, 1)``: ``f=0`` grey, ``f>1`` vivid.
    A one-channel image is returned unchanged."""
    batch, squeezed = _as_batch(x)
    _check_float(batch)
    gray = grayscale(batch)
    out = (gray + _per_image(factor, len(batch), batch) * (batch - gray)).clamp(0, 1)
    return out[0] if squeezed else out


# ------------------------------------------------------------------------ random transforms
class Augmentation:
    """A random transform: ``t(x, generator=None)`` on (C,H,W) or (N,C,H,W), one draw per image.

    Subclasses implement :meth:`sample` (the random parameters of ``n`` images, drawn from the
    generator) and :meth:`apply` (the deterministic transform with those parameters).
    """

    def sample(self, shape: tuple[int, int, int, int], generator, device, dtype) -> dict:
        """The random parameters for a batch of ``shape = (N, C, H, W)``."""
        raise NotImplementedError

    def apply(self, x: torch.Tensor, params: dict) -> torch.Tensor:
        raise NotImplementedError

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        batch, squeezed = _as_batch(x)
        params = self.sample(tuple(batch.shape), generator, batch.device, batch.dtype)
        out = self.apply(batch, params)
        return out[0] if squeezed else out

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({args})"


class Compose(Augmentation):
    """Apply the transforms one after the other, all drawing from the same generator."""

    def __init__(self, transforms: Sequence[Callable]):
        self.transforms = list(transforms)
        for i, t in enumerate(self.transforms):
            if not callable(t):
                raise TypeError(f"transforms[{i}]={t!r} is not callable")

    def __call__(self, x, generator=None):
        for t in self.transforms:
            x = t(x, generator=generator)
        return x


class RandomHorizontalFlip(Augmentation):
    """Mirror each image left–right with probability ``p``."""

    def __init__(self, p: float = 0.5):
        self.p = check_real("p", p, low=0.0, high=1.0)

    def sample(self, shape, generator, device, dtype):
        n, c, h, w = shape
        return {"flip": _uniform(n, 0, 1, generator, device, dtype) < self.p}

    def apply(self, x, params):
        flip = params["flip"].view(-1, 1, 1, 1)
        return torch.where(flip, x.flip(-1), x)


class RandomResizedCrop(Augmentation):
    """Random crops and scales: a box covering a fraction ``scale`` of the area with aspect
    ratio (width/height) in ``ratio`` (drawn log-uniformly), resized to ``size``."""

    def __init__(self, size: tuple[int, int], scale=(0.5, 1.0), ratio=(3 / 4, 4 / 3)):
        if not isinstance(size, (tuple, list)) or len(size) != 2:
            raise TypeError(f"size must be a pair (height, width), got {size!r}")
        self.size = (check_int("size[0]", size[0], low=1), check_int("size[1]", size[1], low=1))
        self.scale = check_range("scale", scale, low=0.0, high=1.0, low_open=True)
        self.ratio = check_range("ratio", ratio, low=0.0, low_open=True)

    def sample(self, shape, generator, device, dtype):
        n, c, h, w = shape
        area = _uniform(n, *self.scale, generator, device, torch.float64) * h * w
        log_r = _uniform(n, math.log(self.ratio[0]), math.log(self.ratio[1]), generator, device,
                         torch.float64)
        r = torch.exp(log_r)
        width = torch.sqrt(area * r).clamp(1, w)
        height = torch.sqrt(area / r).clamp(1, h)
        top = _uniform(n, 0, 1, generator, device, torch.float64) * (h - height)
        left = _uniform(n, 0, 1, generator, device, torch.float64) * (w - width)
        return {k: v.to(dtype) for k, v in
                dict(top=top, left=left, height=height, width=width).items()}

    def apply(self, x, params):
        return resized_crop(x, **params, size=self.size)


class RandomRotation(Augmentation):
    """Rotate by an angle drawn uniformly from ``degrees=(lo, hi)`` (within [-360, 360])."""

    def __init__(self, degrees=(-15.0, 15.0)):
        self.degrees = check_range("degrees", degrees, low=-360.0, high=360.0)

    def sample(self, shape, generator, device, dtype):
        n, c, h, w = shape
        return {"angle": _uniform(n, *self.degrees, generator, device, dtype)}

    def apply(self, x, params):
        return rotate(x, params["angle"])


class RandomPerspective(Augmentation):
    """Geometric distortion: each corner moves by up to ``distortion`` × half the image size in
    x and y, and the image is warped by the projective map that follows the corners."""

    def __init__(self, distortion: float = 0.2):
        self.distortion = check_real("distortion", distortion, low=0.0, high=1.0)

    def sample(self, shape, generator, device, dtype):
        n, c, h, w = shape
        jitter = _uniform(n * 8, -self.distortion, self.distortion, generator, device, dtype)
        half = torch.tensor([(w - 1) / 2, (h - 1) / 2], device=device, dtype=dtype)
        return {"corners": _corners(h, w, n, device, dtype) + jitter.view(n, 4, 2) * half}

    def apply(self, x, params):
        return perspective(x, params["corners"])


class _RandomFactor(Augmentation):
    """A photometric transform whose per-image factor is drawn from a range of factors >= 0."""

    function = staticmethod(adjust_brightness)
    argument = "factor"

    def __init__(self, factor=(0.8, 1.2)):
        setattr(self, self.argument, check_range(self.argument, factor, low=0.0))

    def sample(self, shape, generator, device, dtype):
        n, c, h, w = shape
        return {"value": _uniform(n, *getattr(self, self.argument), generator, device, dtype)}

    def apply(self, x, params):
        _check_float(x)
        return type(self).function(x, params["value"])


class RandomBrightness(_RandomFactor):
    """Randomize brightness: :func:`adjust_brightness` with a factor from ``factor=(lo, hi)``."""

    function = staticmethod(adjust_brightness)


class RandomContrast(_RandomFactor):
    """Randomize contrast: :func:`adjust_contrast` with a factor from ``factor=(lo, hi)``."""

    function = staticmethod(adjust_contrast)


class RandomGamma(_RandomFactor):
    """Photometric change: :func:`adjust_gamma` with ``gamma`` drawn from ``(lo, hi)``."""

    function = staticmethod(adjust_gamma)
    argument = "gamma"

    def __init__(self, gamma=(0.7, 1.4)):
        super().__init__(gamma)


class RandomSaturation(_RandomFactor):
    """Photometric change: :func:`adjust_saturation` with a factor from ``factor=(lo, hi)``."""

    function = staticmethod(adjust_saturation)


class RandomColorCast(Augmentation):
    """Color casting: add to each channel its own shift drawn from U(-shift, shift)."""

    def __init__(self, shift: float = 0.1):
        self.shift = check_real("shift", shift, low=0.0, high=1.0)

    def sample(self, shape, generator, device, dtype):
        n, c, h, w = shape
        delta = _uniform(n * c, -self.shift, self.shift, generator, device, dtype)
        return {"shift": delta.view(n, c)}

    def apply(self, x, params):
        return color_cast(x, params["shift"])


class AugmentedModel(nn.Module):
    """``model`` that sees augmented inputs while training and the plain inputs in eval mode.

    Wrapping the model lets :func:`lecture_code.training.train` augment every mini-batch
    afresh without changing the loop (``evaluate`` switches to eval mode, so validation is
    never augmented).
    """

    def __init__(self, model: nn.Module, transform: Callable, generator: torch.Generator | None = None):
        super().__init__()
        self.model, self.transform, self.generator = model, transform, generator

    def forward(self, x):
        if self.training:
            with torch.no_grad():
                x = self.transform(x, generator=self.generator)
        return self.model(x)


# ------------------------------------------------------------------ 1-D signals (MNIST-1D)
def roll_signals(x: torch.Tensor, shifts: torch.Tensor) -> torch.Tensor:
    """Shift every signal of ``x`` (N, L) circularly by its own number of samples ``shifts``
    (N integers; positive moves the signal to the right), as ``numpy.roll`` does one signal."""
    if not isinstance(x, torch.Tensor) or x.dim() != 2:
        raise ValueError(f"x must be a tensor of signals (N, L), got "
                         f"{tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__}")
    shifts = torch.as_tensor(shifts, device=x.device)
    if shifts.shape != (len(x),) or shifts.is_floating_point():
        raise ValueError(f"shifts must be {len(x)} integers, one per signal, got shape "
                         f"{tuple(shifts.shape)} of dtype {shifts.dtype}")
    length = x.shape[1]
    source = (torch.arange(length, device=x.device) - shifts[:, None]) % length
    return x.gather(1, source)


class RandomSignalJitter:
    """Two of MNIST-1D's label-preserving changes, drawn per signal (Greydanus 2020: its
    generator shifts and scales every class template, among other changes): a circular shift
    by a whole number of samples in ``[-max_shift, max_shift]`` and a change of amplitude by a
    factor in ``[1 - scale, 1 + scale]``. Works on signals ``(N, L)``."""

    def __init__(self, max_shift: int, scale: float = 0.2):
        self.max_shift = check_int("max_shift", max_shift, low=0)
        self.scale = float(check_real("scale", scale, low=0.0, high=1.0, high_open=True))

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        if not isinstance(x, torch.Tensor) or x.dim() != 2:
            raise ValueError("RandomSignalJitter works on signals (N, L)")
        n, where = len(x), generator.device if generator is not None else "cpu"
        shifts = torch.randint(-self.max_shift, self.max_shift + 1, (n,), generator=generator,
                               device=where)
        amplitude = _uniform(n, 1 - self.scale, 1 + self.scale, generator, x.device, x.dtype)
        return roll_signals(x, shifts.to(x.device)) * amplitude[:, None]

    def __repr__(self) -> str:
        return f"RandomSignalJitter(max_shift={self.max_shift}, scale={self.scale:g})"


# ------------------------------------------------------------------- the digits experiment
def digit_augmentations() -> dict[str, Callable | None]:
    """The conditions of the book's digits experiment (8×8 grey images in [0, 1]): none, two
    label-preserving jitters, and two that change what some digits mean."""
    return {
        "none": None,
        "crop + scale": RandomResizedCrop((8, 8), scale=(0.8, 1.0), ratio=(0.9, 1.1)),
        "rotation ±10°": RandomRotation((-10.0, 10.0)),
        "horizontal flip": RandomHorizontalFlip(0.5),
        "rotation ±180°": RandomRotation((-180.0, 180.0)),
    }


def small_cnn(num_classes: int = 10) -> nn.Sequential:
    """The digits experiment's network: two 3×3 conv layers, global pooling, a linear layer."""
    return nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(32 * 2 * 2, num_classes))


def digits_experiment(conditions: dict[str, Callable | None] | None = None, *, seeds=(0, 1, 2),
                      n_train: int = 150, epochs: int = 30, lr: float = 3e-3) -> list[dict]:
    """Validation accuracy of :func:`small_cnn` on the digits, trained on ``n_train`` images
    with each augmentation, for each seed (which picks the subset, the initialisation, the
    mini-batch order and the augmentation draws). One dict per (condition, seed)."""
    from .data import digits
    from .optimizers import Adam
    from .training import train

    conditions = digit_augmentations() if conditions is None else conditions
    rows = []
    for seed in seeds:
        split = digits(images=True, standardize=False, seed=0).subset(n_train, seed=seed)
        x, y = split.x_train / 16, split.y_train
        x_val, y_val = split.x_val / 16, split.y_val
        for name, transform in conditions.items():
            torch.manual_seed(seed)
            model = small_cnn()
            if transform is not None:
                model = AugmentedModel(model, transform, torch.Generator().manual_seed(seed))
            history = train(model, Adam(model.parameters(), lr=lr), (x, y), epochs=epochs,
                            batch_size=32, val_data=(x_val, y_val), quiet=True,
                            generator=torch.Generator().manual_seed(seed))
            rows.append({"augmentation": name, "seed": seed,
                         "train_accuracy": history["train_accuracy"][-1],
                         "val_accuracy": history["val_accuracy"][-1]})
    return rows
