"""Normalization layers, written from the equations of their papers.

Every layer here computes the same two-step transformation and differs only in *which entries
share one mean and one variance*:

.. math::

    \\hat x_i = \\frac{x_i - \\mu_S}{\\sqrt{\\sigma_S^2 + \\epsilon}}, \\qquad
    y_i = \\gamma_c \\hat x_i + \\beta_c,

where :math:`S` is the set of entries that :math:`x_i` is normalised with, :math:`\\mu_S` and
:math:`\\sigma_S^2` their mean and (biased) variance, and :math:`\\gamma_c, \\beta_c` a learned
scale and shift of the channel :math:`c` that :math:`x_i` belongs to.

For an activation tensor of shape ``(N, C, H, W)`` (or ``(N, C)``, ``(N, C, L)``) the set
:math:`S` is described by a :class:`Grouping`: the ``C`` channels are cut into ``num_groups``
consecutive groups, and the statistics are taken over one group of channels and all spatial
positions, either of one sample or of the whole mini-batch (``across_batch``):

=====================  ===============  ==============  ===========================
layer                   ``num_groups``   ``across_batch``  paper
=====================  ===============  ==============  ===========================
:class:`BatchNorm`      ``C``            ``True``        Ioffe & Szegedy (2015)
:class:`LayerNorm`      ``1``            ``False``       Ba, Kiros & Hinton (2016)
:class:`InstanceNorm`   ``C``            ``False``       Ulyanov, Vedaldi & Lempitsky (2017)
:class:`GroupNorm`      ``G``            ``False``       Wu & He (2018)
=====================  ===============  ==============  ===========================

All four use one function, :func:`normalize`, with one hand-written backward pass
(:class:`NormalizeFunction`). Two relatives reparametrise or extend the idea:
:func:`weight_norm` (Salimans & Kingma 2016) normalises the *weights* instead of the
activations, and :class:`DecorrelatedBatchNorm` (Huang et al. 2018) whitens the mini-batch
instead of only standardising each feature.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.autograd.function import once_differentiable
from torch.nn.utils import parametrize

from ._checks import check_bool, check_int, check_real

__all__ = [
    "Grouping", "BATCH", "LAYER", "INSTANCE", "group", "normalize", "NormalizeFunction",
    "BatchNorm", "GroupNorm", "LayerNorm", "InstanceNorm", "WeightNorm", "weight_norm",
    "DecorrelatedBatchNorm", "normalized_mlp", "recompute_batch_norm_statistics",
    "preactivations",
]

_RANKS = {2: "(N, C)", 3: "(N, C, L)", 4: "(N, C, H, W)"}


# --------------------------------------------------------------------------------------------
# Argument checks shared by the layers
# --------------------------------------------------------------------------------------------

def _check_eps(eps) -> float:
    return check_real("eps", eps, low=0.0, low_open=True)


def _check_input(x, layer: str, num_channels: int, ranks=(2, 3, 4)) -> None:
    """Raise a readable error when ``x`` is not a float tensor of an accepted rank and width."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{layer} expects a torch.Tensor input, got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"{layer} expects a floating-point input, got dtype {x.dtype}")
    if x.dim() not in ranks:
        shapes = " or ".join(_RANKS[r] for r in ranks)
        raise ValueError(f"input.dim()={x.dim()} (shape {tuple(x.shape)}) is not accepted by "
                         f"{layer}: expected input.dim() in {set(ranks)}, i.e. shape {shapes}")
    if x.shape[1] != num_channels:
        raise ValueError(f"input.shape[1]={x.shape[1]} (shape {tuple(x.shape)}) does not match "
                         f"the layer: {layer} was built for {num_channels} channels, expected "
                         f"input.shape[1] == {num_channels}")


# --------------------------------------------------------------------------------------------
# Which entries share their statistics: one description for the whole family
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Grouping:
    """Which entries of an ``(N, C, *spatial)`` tensor are normalised together.

    The ``C`` channels are cut into ``num_groups`` consecutive groups of ``C / num_groups``
    channels (``num_groups=None`` means one group per channel). The tensor is viewed as
    ``(N, G, C/G, L)`` with ``L`` the number of spatial positions, and the mean and variance
    are taken over the axes :attr:`reduced_dims` of that view:

    * ``(C/G, L)`` of one sample when ``across_batch=False`` — layer, instance and group
      normalization (Ba et al. 2016; Ulyanov et al. 2017; Wu & He 2018);
    * ``(N, C/G, L)`` when ``across_batch=True`` — batch normalization (Ioffe & Szegedy 2015),
      where ``G = C``.

    :meth:`labels` gives the same choice as an integer label per entry, which is what the
    book's pictures of the four layers are drawn from.
    """

    num_groups: int | None
    across_batch: bool
    name: str = "group norm"

    def groups_for(self, num_channels: int) -> int:
        """The number of channel groups ``G`` for a tensor with ``num_channels`` channels."""
        groups = num_channels if self.num_groups is None else self.num_groups
        if num_channels % groups:
            raise ValueError(
                f"num_channels={num_channels} is not divisible by num_groups={groups}: expected "
                f"num_groups to be one of the divisors {_divisors(num_channels)}")
        return groups

    def view_shape(self, shape) -> tuple[int, int, int, int]:
        """The ``(N, G, C/G, L)`` view of a tensor of the given shape."""
        n, c = shape[0], shape[1]
        g = self.groups_for(c)
        return (n, g, c // g, math.prod(shape[2:]))

    @property
    def reduced_dims(self) -> tuple[int, ...]:
        """The axes of the ``(N, G, C/G, L)`` view that one mean and variance run over."""
        return (0, 2, 3) if self.across_batch else (2, 3)

    def group_size(self, shape) -> int:
        """How many entries share one mean and variance (``m`` in the equations)."""
        view = self.view_shape(shape)
        return math.prod(view[d] for d in self.reduced_dims)

    def labels(self, shape) -> np.ndarray:
        """Integer array of shape ``(N, C, L)``: entries with equal labels share statistics.

        Derived from :meth:`view_shape` and :attr:`reduced_dims` (the kept axes of the view
        are flattened into one label), so it shows exactly what :func:`normalize` computes.
        """
        view = self.view_shape(shape)
        coords = np.indices(view)
        kept = [d for d in range(4) if d not in self.reduced_dims]
        labels = np.ravel_multi_index([coords[d] for d in kept], [view[d] for d in kept])
        return labels.reshape(view[0], view[1] * view[2], view[3])


def _divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


#: Batch normalization: per channel, over the mini-batch and all positions.
BATCH = Grouping(None, True, "batch norm")
#: Layer normalization: per sample, over all channels and positions.
LAYER = Grouping(1, False, "layer norm")
#: Instance normalization: per sample and channel, over the positions.
INSTANCE = Grouping(None, False, "instance norm")


def group(num_groups: int) -> Grouping:
    """Group normalization's grouping (Wu & He 2018): per sample, C/G channels, all positions."""
    check_int("num_groups", num_groups, low=1)
    return Grouping(num_groups, False, f"group norm (G={num_groups})")


# --------------------------------------------------------------------------------------------
# The shared computation and its hand-written backward pass
# --------------------------------------------------------------------------------------------

class NormalizeFunction(torch.autograd.Function):
    """Normalise, scale and shift, with the compact closed-form backward pass.

    Forward, over each set :math:`S` of :math:`m` entries (Ioffe & Szegedy 2015, Algorithm 1):

    .. math::

        \\mu = \\tfrac1m \\sum_{i\\in S} x_i, \\quad
        \\sigma^2 = \\tfrac1m \\sum_{i\\in S} (x_i-\\mu)^2, \\quad
        \\hat x_i = (x_i-\\mu)\\,(\\sigma^2+\\epsilon)^{-1/2}, \\quad
        y_i = \\gamma_c \\hat x_i + \\beta_c.

    Backward, with :math:`g_i = \\gamma_c\\, \\partial L/\\partial y_i` (the gradient reaching
    :math:`\\hat x_i`) and means :math:`\\langle\\cdot\\rangle` over :math:`S`:

    .. math::

        \\frac{\\partial L}{\\partial x_i} = (\\sigma^2+\\epsilon)^{-1/2}
        \\left( g_i - \\langle g \\rangle - \\hat x_i \\langle g\\, \\hat x \\rangle \\right),
        \\quad
        \\frac{\\partial L}{\\partial \\gamma_c}
        = \\sum_{i\\in c} \\frac{\\partial L}{\\partial y_i} \\hat x_i, \\quad
        \\frac{\\partial L}{\\partial \\beta_c}
        = \\sum_{i\\in c} \\frac{\\partial L}{\\partial y_i}.

    The two subtracted terms are the paths through :math:`\\mu` and :math:`\\sigma^2`: the input
    gradient is orthogonal to the constant vector and to :math:`\\hat x` within each set.
    For batch norm, where :math:`\\gamma` is constant on :math:`S`, this is the familiar
    :math:`\\frac{\\gamma}{m\\sqrt{\\sigma^2+\\epsilon}}
    (m\\,dy - \\sum dy - \\hat x\\sum dy\\,\\hat x)`.

    Call it through :func:`normalize`. Outputs ``(y, mean, var)``; the statistics are returned
    for the running averages and are not differentiable.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, eps, view_shape, reduced_dims):
        xv = x.reshape(view_shape)
        mean = xv.mean(dim=reduced_dims, keepdim=True)
        centred = xv - mean
        var = (centred * centred).mean(dim=reduced_dims, keepdim=True)   # biased: divide by m
        inv_std = torch.rsqrt(var + eps)
        xhat = centred * inv_std
        channel_shape = (1, view_shape[1], view_shape[2], 1)
        y = xhat
        if weight is not None:
            y = y * weight.reshape(channel_shape)
        if bias is not None:
            y = y + bias.reshape(channel_shape)
        ctx.save_for_backward(xhat, inv_std, weight)
        ctx.reduced_dims = reduced_dims
        ctx.channel_shape = channel_shape
        ctx.has_bias = bias is not None
        ctx.mark_non_differentiable(mean, var)
        return y.reshape(x.shape), mean, var

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_y, _grad_mean, _grad_var):
        xhat, inv_std, weight = ctx.saved_tensors
        dy = grad_y.reshape(xhat.shape)
        per_channel = (0, 3)                        # sum over samples and positions
        grad_weight = grad_bias = grad_x = None
        if weight is not None and ctx.needs_input_grad[1]:
            grad_weight = (dy * xhat).sum(per_channel).reshape(-1)
        if ctx.has_bias and ctx.needs_input_grad[2]:
            grad_bias = dy.sum(per_channel).reshape(-1)
        if ctx.needs_input_grad[0]:
            g = dy if weight is None else dy * weight.reshape(ctx.channel_shape)
            dims = ctx.reduced_dims
            grad_x = inv_std * (g - g.mean(dims, keepdim=True)
                                - xhat * (g * xhat).mean(dims, keepdim=True))
            grad_x = grad_x.reshape(grad_y.shape)
        return grad_x, grad_weight, grad_bias, None, None, None


def normalize(x: torch.Tensor, grouping: Grouping, weight: torch.Tensor | None = None,
              bias: torch.Tensor | None = None, eps: float = 1e-5):
    """Normalise ``x`` over the sets chosen by ``grouping``, then scale and shift per channel.

    .. math:: y = \\gamma_c\\,\\frac{x - \\mu_S}{\\sqrt{\\sigma_S^2 + \\epsilon}} + \\beta_c

    ``x`` has shape ``(N, C)``, ``(N, C, L)`` or ``(N, C, H, W)``; ``weight`` (:math:`\\gamma`)
    and ``bias`` (:math:`\\beta`) have shape ``(C,)`` or are ``None``. Returns ``(y, mean, var)``
    where ``mean`` and ``var`` (biased) have the shape of the ``(N, G, C/G, L)`` view with the
    reduced axes kept as size 1. Differentiated by :class:`NormalizeFunction`'s hand-written
    backward pass. See Ioffe & Szegedy (2015), Ba et al. (2016), Ulyanov et al. (2017),
    Wu & He (2018).
    """
    if not isinstance(grouping, Grouping):
        raise TypeError(f"grouping must be a Grouping, got {type(grouping).__name__}")
    eps = _check_eps(eps)
    _check_input(x, grouping.name, x.shape[1] if x.dim() >= 2 else -1)
    for name, param in (("weight", weight), ("bias", bias)):
        if param is not None and tuple(param.shape) != (x.shape[1],):
            raise ValueError(f"{name}.shape={tuple(param.shape)} does not match the input's "
                             f"{x.shape[1]} channels: expected ({x.shape[1]},)")
    m = grouping.group_size(x.shape)
    if m == 1:
        raise ValueError(
            f"{grouping.name} of an input of shape {tuple(x.shape)} would normalise sets of a "
            f"single value (m=1): one value has no variance and would be mapped to 0. "
            f"Expected at least 2 values per normalised set")
    return NormalizeFunction.apply(x, weight, bias, eps, grouping.view_shape(x.shape),
                                   grouping.reduced_dims)


def _channel_view(t: torch.Tensor, ndim: int) -> torch.Tensor:
    """A per-channel vector shaped to broadcast against an ``(N, C, ...)`` tensor of rank ndim."""
    return t.reshape((1, -1) + (1,) * (ndim - 2))


# --------------------------------------------------------------------------------------------
# Batch normalization
# --------------------------------------------------------------------------------------------

def _init_batch_statistics(module: nn.Module, num_features, eps, momentum, affine) -> None:
    """What BatchNorm and DecorrelatedBatchNorm set up alike: checked hyperparameters, the
    optional scale γ (``weight``) and shift β (``bias``), and the running mean."""
    module.num_features = check_int("num_features", num_features, low=1)
    module.eps = _check_eps(eps)
    module.momentum = check_real("momentum", momentum, low=0.0, high=1.0)
    _init_affine(module, num_features, affine)
    module.register_buffer("running_mean", torch.zeros(num_features))


def _init_affine(module: nn.Module, num_features: int, affine) -> None:
    """The per-channel scale γ (``weight``, ones) and shift β (``bias``, zeros), or none."""
    module.affine = check_bool("affine", affine)
    if affine:
        module.weight = nn.Parameter(torch.ones(num_features))
        module.bias = nn.Parameter(torch.zeros(num_features))
    else:
        module.register_parameter("weight", None)
        module.register_parameter("bias", None)


class BatchNorm(nn.Module):
    """Batch normalization (Ioffe & Szegedy 2015) for ``(N, C)``, ``(N, C, L)``, ``(N, C, H, W)``.

    In training mode every channel is standardised with the statistics of the mini-batch,
    taken over the ``m = N·H·W`` values of that channel:

    .. math::

        \\mu_B = \\tfrac1m\\sum_i x_i,\\quad \\sigma_B^2 = \\tfrac1m\\sum_i (x_i-\\mu_B)^2,\\quad
        y_i = \\gamma\\,\\frac{x_i-\\mu_B}{\\sqrt{\\sigma_B^2+\\epsilon}} + \\beta .

    The running estimates used in eval mode follow torch's convention,

    .. math::

        \\hat\\mu \\leftarrow (1-\\alpha)\\,\\hat\\mu + \\alpha\\,\\mu_B, \\qquad
        \\hat\\sigma^2 \\leftarrow (1-\\alpha)\\,\\hat\\sigma^2
        + \\alpha\\,\\tfrac{m}{m-1}\\sigma_B^2,

    with ``momentum`` :math:`\\alpha`: the batch is normalised with the *biased* variance, but
    the running variance averages the *unbiased* one (as ``torch.nn.BatchNorm2d`` does, so the
    two layers agree to rounding error). In eval mode,
    :math:`y = \\gamma (x-\\hat\\mu)/\\sqrt{\\hat\\sigma^2+\\epsilon} + \\beta` — a fixed affine
    map, so one sample's output no longer depends on its batch-mates.

    Parameters and buffers are named as in ``torch.nn.BatchNorm2d`` (``weight``, ``bias``,
    ``running_mean``, ``running_var``, ``num_batches_tracked``), so state dicts load both ways.
    The gradient is :class:`NormalizeFunction`'s hand-written backward pass.
    """

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1,
                 affine: bool = True):
        super().__init__()
        _init_batch_statistics(self, num_features, eps, momentum, affine)
        self.register_buffer("running_var", torch.ones(num_features))
        self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long))

    def reset_running_stats(self) -> None:
        """Forget the running estimates: mean 0, variance 1."""
        self.running_mean.zero_()
        self.running_var.fill_(1.0)
        self.num_batches_tracked.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_input(x, "BatchNorm", self.num_features)
        if not self.training:
            scale = torch.rsqrt(self.running_var + self.eps)
            y = (x - _channel_view(self.running_mean, x.dim())) * _channel_view(scale, x.dim())
            if self.affine:
                y = y * _channel_view(self.weight, x.dim()) + _channel_view(self.bias, x.dim())
            return y
        m = BATCH.group_size(x.shape)
        if m == 1:
            raise ValueError(
                f"BatchNorm in training mode got a batch of one (input shape {tuple(x.shape)}): "
                f"each channel then has a single value, which has no variance to normalise "
                f"with. Expected at least 2 values per channel (N*H*W >= 2); use model.eval() "
                f"to predict single samples with the running statistics")
        y, mean, var = normalize(x, BATCH, self.weight, self.bias, self.eps)
        with torch.no_grad():
            a = self.momentum
            self.running_mean.mul_(1 - a).add_(mean.reshape(-1), alpha=a)
            self.running_var.mul_(1 - a).add_(var.reshape(-1) * (m / (m - 1)), alpha=a)
            self.num_batches_tracked.add_(1)
        return y

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}")


# --------------------------------------------------------------------------------------------
# Layer, instance and group normalization: one class, three group counts
# --------------------------------------------------------------------------------------------

class GroupNorm(nn.Module):
    """Group normalization (Wu & He 2018): per sample, over groups of ``C/G`` channels.

    .. math::

        y_{n,c,\\ell} = \\gamma_c\\, \\frac{x_{n,c,\\ell} - \\mu_{n,g}}
        {\\sqrt{\\sigma_{n,g}^2 + \\epsilon}} + \\beta_c, \\qquad
        \\mu_{n,g},\\ \\sigma^2_{n,g} \\text{ over } c \\in g,\\ \\text{all positions } \\ell .

    No statistic involves another sample, so training and eval mode compute the same thing and
    the batch size does not matter. ``num_groups=1`` is :class:`LayerNorm`,
    ``num_groups=num_channels`` is :class:`InstanceNorm`. Parameters are named as in
    ``torch.nn.GroupNorm``. Inputs ``(N, C)``, ``(N, C, L)`` or ``(N, C, H, W)``.
    """

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5,
                 affine: bool = True):
        super().__init__()
        self.num_channels = check_int("num_channels", num_channels, low=1)
        check_int("num_groups", num_groups, low=1)
        self.grouping = self._grouping(num_groups)
        self.num_groups = self.grouping.groups_for(num_channels)   # checks divisibility
        self.eps = _check_eps(eps)
        _init_affine(self, num_channels, affine)

    def _grouping(self, num_groups: int) -> Grouping:
        return group(num_groups)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_input(x, type(self).__name__, self.num_channels)
        return normalize(x, self.grouping, self.weight, self.bias, self.eps)[0]

    def extra_repr(self) -> str:
        return (f"num_groups={self.num_groups}, num_channels={self.num_channels}, "
                f"eps={self.eps}, affine={self.affine}")


class LayerNorm(GroupNorm):
    """Layer normalization (Ba, Kiros & Hinton 2016): each sample over all its channels.

    .. math::

        \\mu_n = \\tfrac1{CL}\\sum_{c,\\ell} x_{n,c,\\ell},\\quad
        \\sigma^2_n = \\tfrac1{CL}\\sum_{c,\\ell} (x_{n,c,\\ell}-\\mu_n)^2,\\quad
        y_{n,c,\\ell} = \\gamma_c\\frac{x_{n,c,\\ell}-\\mu_n}{\\sqrt{\\sigma_n^2+\\epsilon}}
        + \\beta_c .

    It is :class:`GroupNorm` with one group. For ``(N, C)`` input it equals
    ``torch.nn.LayerNorm(C)``; for ``(N, C, H, W)`` it equals ``torch.nn.LayerNorm((C, H, W))``
    whose per-element gain and shift are constant over ``H, W`` — here, as in Wu & He's
    comparison, ``γ`` and ``β`` are per channel, so the layer works for any image size.
    """

    def __init__(self, num_channels: int, eps: float = 1e-5, affine: bool = True):
        super().__init__(1, num_channels, eps, affine)

    def _grouping(self, num_groups: int) -> Grouping:
        return LAYER

    def extra_repr(self) -> str:
        return f"{self.num_channels}, eps={self.eps}, affine={self.affine}"


class InstanceNorm(GroupNorm):
    """Instance normalization (Ulyanov, Vedaldi & Lempitsky 2017): each sample and channel.

    .. math::

        y_{n,c,\\ell} = \\gamma_c\\frac{x_{n,c,\\ell}-\\mu_{n,c}}{\\sqrt{\\sigma_{n,c}^2+\\epsilon}}
        +\\beta_c, \\qquad \\mu_{n,c},\\ \\sigma^2_{n,c} \\text{ over the positions } \\ell .

    It is :class:`GroupNorm` with one group per channel, and equals
    ``torch.nn.InstanceNorm2d(C, affine=True)`` (which, like this layer, keeps no running
    statistics by default: instance statistics are used at test time too). It needs a spatial
    axis: on ``(N, C)`` input every set would hold a single value.
    """

    def __init__(self, num_channels: int, eps: float = 1e-5, affine: bool = True):
        super().__init__(num_channels, num_channels, eps, affine)

    def _grouping(self, num_groups: int) -> Grouping:
        return INSTANCE

    def extra_repr(self) -> str:
        return f"{self.num_channels}, eps={self.eps}, affine={self.affine}"


# --------------------------------------------------------------------------------------------
# Weight normalization
# --------------------------------------------------------------------------------------------

def _norm_per_output(v: torch.Tensor) -> torch.Tensor:
    """‖v_k‖ of every output unit k (a row of a Linear weight, a filter of a Conv weight)."""
    return v.flatten(1).norm(dim=1).reshape((-1,) + (1,) * (v.dim() - 1))


class WeightNorm(nn.Module):
    """The weight-normalization map :math:`w_k = g_k\\, v_k / \\lVert v_k \\rVert`.

    Salimans & Kingma (2016): each output unit's weight vector :math:`w_k` is written as a
    direction :math:`v_k` and a length :math:`g_k`, which decouples the two for gradient
    descent. Used as a ``torch.nn.utils.parametrize`` parametrisation by :func:`weight_norm`;
    ``right_inverse`` starts from :math:`g_k = \\lVert w_k\\rVert, v_k = w_k`, so the layer
    computes the same function right after reparametrisation.
    """

    def forward(self, g: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return g * v / _norm_per_output(v)

    def right_inverse(self, w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return _norm_per_output(w), w


def weight_norm(module: nn.Module, name: str = "weight") -> nn.Module:
    """Reparametrise ``module.weight`` as :math:`w = g\\, v/\\lVert v\\rVert`, per output unit.

    Salimans & Kingma (2016). ``module`` is an ``nn.Linear`` or a convolution (``nn.Conv1d``,
    ``nn.Conv2d``, ``nn.Conv3d``); it is changed in place and returned. The new parameters are
    ``module.parametrizations.weight.original0`` (:math:`g`, shape ``(out, 1, ...)``) and
    ``module.parametrizations.weight.original1`` (:math:`v`), the names
    ``torch.nn.utils.parametrizations.weight_norm`` uses, so the two are interchangeable;
    ``module.weight`` is recomputed from them on every access.
    """
    if not isinstance(module, (nn.Linear, nn.modules.conv._ConvNd)):
        raise TypeError(f"module must be an nn.Linear or nn.Conv1d/2d/3d layer, got "
                        f"{type(module).__name__}")
    if not isinstance(name, str) or not isinstance(getattr(module, name, None), torch.Tensor):
        raise ValueError(f"name={name!r} is not a weight tensor of {type(module).__name__}: "
                         f"expected 'weight'")
    parametrize.register_parametrization(module, name, WeightNorm(), unsafe=True)
    return module


# --------------------------------------------------------------------------------------------
# Decorrelated batch normalization
# --------------------------------------------------------------------------------------------

class DecorrelatedBatchNorm(nn.Module):
    """Decorrelated batch normalization (Huang, Yang, Lang & Deng 2018) for ``(N, C)`` inputs.

    Batch norm standardises every feature on its own; DBN *whitens* the mini-batch, so the
    features also become uncorrelated. With :math:`X_c = X - \\mu_B` and

    .. math::

        \\Sigma = \\tfrac1m X_c^\\top X_c + \\epsilon I = U\\,\\mathrm{diag}(\\lambda)\\,U^\\top,
        \\qquad
        \\hat X = X_c\\, \\Sigma^{-1/2} = X_c\\, U\\,\\mathrm{diag}(\\lambda^{-1/2})\\,U^\\top,
        \\qquad y = \\gamma \\odot \\hat x + \\beta .

    This is ZCA whitening: among all whitening matrices, :math:`\\Sigma^{-1/2}` moves the data
    least, which the paper shows avoids the "stochastic axis swapping" of PCA whitening. The
    output covariance is :math:`\\Sigma^{-1/2}(\\Sigma-\\epsilon I)\\Sigma^{-1/2} \\approx I`
    once the batch has more samples than features. Gradients flow by autograd through
    ``torch.linalg.eigh``.

    For eval mode it keeps, like the paper's code, running averages of the mean and of the
    whitening matrix :math:`\\Sigma^{-1/2}` (``running_mean``, ``running_whitening``) with
    ``momentum`` as in :class:`BatchNorm`. (The paper also whitens groups of features
    separately to save cost; this version whitens all ``C`` features together.)
    """

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1,
                 affine: bool = True):
        super().__init__()
        _init_batch_statistics(self, num_features, eps, momentum, affine)
        self.register_buffer("running_whitening", torch.eye(num_features))

    def whitening_matrix(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The batch mean :math:`\\mu_B` and the ZCA matrix :math:`\\Sigma^{-1/2}` of ``x``."""
        mean = x.mean(dim=0)
        centred = x - mean
        cov = centred.T @ centred / x.shape[0]
        cov = cov + self.eps * torch.eye(x.shape[1], dtype=x.dtype, device=x.device)
        eigenvalues, eigenvectors = torch.linalg.eigh(cov)
        whitening = (eigenvectors * eigenvalues.rsqrt()) @ eigenvectors.T
        return mean, whitening

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_input(x, "DecorrelatedBatchNorm", self.num_features, ranks=(2,))
        if self.training:
            if x.shape[0] == 1:
                raise ValueError(
                    f"DecorrelatedBatchNorm in training mode got a batch of one (input shape "
                    f"{tuple(x.shape)}): a single sample has no covariance to whiten with. "
                    f"Expected N >= 2 (and N > C to whiten every direction)")
            mean, whitening = self.whitening_matrix(x)
            with torch.no_grad():
                a = self.momentum
                self.running_mean.mul_(1 - a).add_(mean, alpha=a)
                self.running_whitening.mul_(1 - a).add_(whitening, alpha=a)
        else:
            mean, whitening = self.running_mean, self.running_whitening
        y = (x - mean) @ whitening
        if self.affine:
            y = y * self.weight + self.bias
        return y

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}")


# --------------------------------------------------------------------------------------------
# A network to experiment with
# --------------------------------------------------------------------------------------------

def normalized_mlp(sizes, norm: str | None = "batch", num_groups: int = 8,
                   activation: type[nn.Module] = nn.ReLU, init: str = "torch") -> nn.Sequential:
    """An MLP ``Linear → [norm] → activation → ... → Linear`` with the given widths.

    ``norm`` is ``None`` (plain MLP), ``"batch"`` (:class:`BatchNorm`), ``"layer"``
    (:class:`LayerNorm`) or ``"group"`` (:class:`GroupNorm` with ``num_groups`` groups). The
    normalization sits after each hidden linear layer and before its nonlinearity, where
    Ioffe & Szegedy (2015) put it. ``init="torch"`` keeps ``nn.Linear``'s default
    initialisation, ``init="he"`` draws :math:`W \\sim \\mathcal N(0, 2/\\text{fan-in})` with zero
    biases (He et al. 2015), which keeps the activation scale of a plain ReLU network.
    """
    sizes = list(sizes)
    if len(sizes) < 2:
        raise ValueError(f"sizes={sizes!r} needs at least an input and an output width")
    for i, size in enumerate(sizes):
        check_int(f"sizes[{i}]", size, low=1)
    makers = {None: None, "batch": BatchNorm, "layer": LayerNorm,
              "group": lambda c: GroupNorm(num_groups, c)}
    if norm not in makers:
        raise ValueError(f"norm={norm!r} is not one of None, 'batch', 'layer', 'group'")
    if init not in ("torch", "he"):
        raise ValueError(f"init={init!r} is not one of 'torch', 'he'")
    layers: list[nn.Module] = []
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        linear = nn.Linear(fan_in, fan_out)
        if init == "he":
            nn.init.kaiming_normal_(linear.weight, nonlinearity="relu")
            nn.init.zeros_(linear.bias)
        layers.append(linear)
        if i < len(sizes) - 2:
            if makers[norm] is not None:
                layers.append(makers[norm](fan_out))
            layers.append(activation())
    return nn.Sequential(*layers)


@torch.no_grad()
def recompute_batch_norm_statistics(model: nn.Module, x: torch.Tensor,
                                    batch_size: int = 256) -> nn.Module:
    """Replace every :class:`BatchNorm`'s running statistics by their average over ``x``.

    The exponential running averages of training trail behind weights that keep moving; one
    pass over data with the weights frozen gives the statistics of the *final* network: the
    mean of the mini-batch means and of the (unbiased) mini-batch variances. Passing new data
    (e.g. a shifted test set) adapts the normalization to it instead. The model's mode is
    restored afterwards; the parameters are not touched. With batch statistics
    :math:`\\mu_k, \\sigma_k^2` of the batches :math:`k = 1..K` of ``x``:

    .. math:: \\hat\\mu = \\tfrac1K \\sum_k \\mu_k, \\qquad
              \\hat\\sigma^2 = \\tfrac1K \\sum_k \\tfrac{m}{m-1}\\sigma_k^2 .

    (Called "precise BN" by Wu & Johnson, *Rethinking "Batch" in BatchNorm*, 2021; adapting
    the statistics to a new domain is "AdaBN", Li et al. 2016.)
    """
    check_int("batch_size", batch_size, low=2)
    layers = [m for m in model.modules() if isinstance(m, BatchNorm)]
    if not layers:
        raise ValueError(f"model has no BatchNorm layer to recompute: {type(model).__name__}")
    was_training, momenta = model.training, [m.momentum for m in layers]
    for layer in layers:
        layer.reset_running_stats()
    model.train()
    try:
        batches = [b for b in x.split(batch_size) if len(b) > 1]
        for k, batch in enumerate(batches):
            for layer in layers:
                layer.momentum = 1.0 / (k + 1)   # running average = plain mean of batch stats
            model(batch)
    finally:
        for layer, momentum in zip(layers, momenta):
            layer.momentum = momentum
        model.train(was_training)
    return model


@torch.no_grad()
def preactivations(model: nn.Sequential, x: torch.Tensor,
                   activation: type[nn.Module] = nn.ReLU) -> list[torch.Tensor]:
    """The inputs of every ``activation`` module of ``model`` on ``x``, in order (a copy each).

    These are the values batch normalization standardises when it sits before the
    nonlinearity. The model's mode is not changed.
    """
    captured: list[torch.Tensor] = []
    hooks = [m.register_forward_pre_hook(lambda _m, args: captured.append(args[0].clone()))
             for m in model.modules() if isinstance(m, activation)]
    try:
        model(x)
    finally:
        for hook in hooks:
            hook.remove()
    return captured
