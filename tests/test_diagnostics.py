"""The babysitting monitors and sanity checks, each against an independent computation."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from lecture_code import diagnostics as diag
from lecture_code import training
from lecture_code.optimizers import SGD

torch.set_num_threads(1)


def blobs(n=120, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 4, generator=g)
    y = (x[:, 0] + x[:, 1] > 0).long()
    return x, y


def tiny_model(seed=0):
    torch.manual_seed(seed)
    return training.mlp([4, 8, 2])


def fit(model, callbacks, *, lr=0.1, epochs=1, batch_size=40, data=None):
    data = blobs() if data is None else data
    return training.train(model, SGD(model.parameters(), lr=lr), data, epochs=epochs,
                          batch_size=batch_size, quiet=True, callbacks=callbacks,
                          generator=torch.Generator().manual_seed(0))


# --- monitors -------------------------------------------------------------------------------
def test_update_ratio_matches_lr_times_gradient_over_weight():
    model = tiny_model()
    x, y = blobs()
    # Independent computation of the first step: plain SGD moves W by lr * grad.
    reference = tiny_model()
    batch = training.minibatches(len(y), 40, torch.Generator().manual_seed(0))
    index = next(iter(batch))
    F.cross_entropy(reference(x[index]), y[index]).backward()
    expected = {name: 0.1 * p.grad.norm().item() / p.detach().norm().item()
                for name, p in reference.named_parameters() if p.dim() >= 2}
    monitor = diag.UpdateRatioMonitor()
    fit(model, [monitor])
    assert monitor.steps == [1, 2, 3]
    assert set(monitor.ratios) == {"0.weight", "2.weight"}
    for name, value in expected.items():
        assert monitor.ratios[name][0] == pytest.approx(value, rel=1e-5)
    assert "0.weight" in monitor.summary()


def test_update_ratio_of_a_zero_weight():
    model = tiny_model()
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
    monitor = diag.UpdateRatioMonitor(include_biases=True)
    fit(model, [monitor])
    assert monitor.ratios["0.weight"][0] == 0.0       # zero weight, zero gradient: no move
    assert monitor.ratios["2.bias"][0] == math.inf    # zero bias that moved


def test_dead_relu_fraction_on_a_constructed_layer():
    layer = nn.Linear(3, 5)
    with torch.no_grad():
        layer.weight.zero_()
        layer.bias.copy_(torch.tensor([-1.0, -2.0, 1.0, 0.5, -0.1]))  # units 0, 1, 4 dead
        layer.weight[4, 0] = 1.0  # ... except unit 4, alive whenever x0 > 0.1
    model = nn.Sequential(layer, nn.ReLU(), nn.Linear(5, 2))
    x = torch.tensor([[1.0, 0, 0], [-1.0, 0, 0], [0.0, 0, 0], [2.0, 1, 1]])
    y = torch.tensor([0, 1, 0, 1])
    monitor = diag.DeadReLUMonitor()
    training.train(model, SGD(model.parameters(), lr=0.0), (x, y), batch_size=None, quiet=True,
                   callbacks=[monitor])
    assert monitor.fractions["1"] == [pytest.approx(2 / 5)]
    assert diag.DeadReLUMonitor.dead_fraction(torch.relu(layer(x))) == pytest.approx(2 / 5)
    monitor.remove()


def test_histograms_record_training_outputs_and_gradients():
    model = tiny_model()
    monitor = diag.HistogramMonitor(every=2)
    x, y = blobs()
    fit(model, [monitor])
    assert sorted(monitor.activations) == [1, 2]
    assert sorted(monitor.activations[2]) == ["0", "1", "2"]
    assert monitor.activations[2]["0"].numel() == 40 * 8
    # ReLU output = relu of the Linear output that the hook saw.
    assert torch.equal(monitor.activations[2]["1"], torch.relu(monitor.activations[2]["0"]))
    assert sorted(monitor.gradients[1]) == ["0.weight", "2.weight"]
    assert monitor.stats(2)["1"]["zeros"] == pytest.approx(
        (monitor.activations[2]["1"] == 0).float().mean().item())
    monitor.remove()
    assert not model[0]._forward_hooks


def test_hooked_monitors_detach_at_the_end_of_the_run_unless_told_to_keep_them():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Dropout(0.5), nn.Linear(8, 2))
    monitors = [diag.HistogramMonitor(), diag.DeadReLUMonitor(), diag.NaNGuard(),
                diag.ModeMonitor(keep_hooks=False)]
    fit(model, monitors)
    assert not any(m._forward_hooks for m in model.modules())
    kept = diag.ModeMonitor()
    fit(model, [kept])
    assert any(m._forward_hooks for m in model.modules())
    kept.remove()
    assert not any(m._forward_hooks for m in model.modules())
    with pytest.raises(TypeError, match="keep_hooks"):
        diag.ModeMonitor(keep_hooks="yes")


def test_gradient_norm_against_autograd():
    model = tiny_model()
    monitor = diag.GradNormMonitor()
    reference = tiny_model()
    x, y = blobs()
    index = next(iter(training.minibatches(len(y), 40, torch.Generator().manual_seed(0))))
    F.cross_entropy(reference(x[index]), y[index]).backward()
    expected = torch.cat([p.grad.flatten() for p in reference.parameters()]).norm().item()
    fit(model, [monitor])
    assert monitor.total[0] == pytest.approx(expected, rel=1e-6)
    assert len(monitor.total) == 3


class Explode(nn.Module):
    """Multiplies by a huge factor after a given number of calls (a constructed failure)."""

    def __init__(self, after):
        super().__init__()
        self.calls, self.after = 0, after

    def forward(self, x):
        self.calls += 1
        return x * 1e30 * 1e30 if self.calls > self.after else x


def test_nan_guard_names_the_first_non_finite_layer():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), Explode(after=2), nn.Linear(8, 2))
    guard = diag.NaNGuard()
    with pytest.raises(diag.NonFiniteError) as info:
        fit(model, [guard])
    assert info.value.layer == "2" and info.value.kind == "activation"
    assert info.value.step == 3
    assert "'2' (Explode)" in str(info.value) and "overflowed here" in str(info.value)
    assert len(info.value.history.step_loss) == 2   # the run's record survives the stop
    assert not any(m._forward_hooks for m in model.modules())  # train() detached the hooks
    guard.remove()


class BadBackward(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x.clone()

    @staticmethod
    def backward(ctx, grad):
        return grad * float("nan")


class BadGradLayer(nn.Module):
    def forward(self, x):
        return BadBackward.apply(x)


def test_nan_guard_names_the_layer_whose_gradient_went_non_finite():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), BadGradLayer(), nn.ReLU(), nn.Linear(8, 2))
    guard = diag.NaNGuard()
    with pytest.raises(diag.NonFiniteError) as info:
        fit(model, [guard])
    # Going backward, the gradient into BadGradLayer's output is finite; into Linear '0''s
    # output (= BadGradLayer's input) it is NaN.
    assert info.value.layer == "0" and info.value.kind == "gradient" and info.value.step == 1
    guard.remove()


def test_nan_guard_blames_the_data_and_can_record_without_raising():
    x, y = blobs()
    x[50, 2] = float("nan")
    guard = diag.NaNGuard(raise_error=False)
    with pytest.raises(training.TrainingDiverged):
        fit(tiny_model(), [guard], data=(x, y), batch_size=None)
    assert guard.first[2] == "0" and "input was already non-finite" in guard.first[3]


def test_mode_monitor_counts_dropout_in_the_wrong_mode():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.5), nn.Linear(8, 2))
    monitor = diag.ModeMonitor()
    x, y = blobs()
    fit(model, [monitor])
    assert monitor.wrong == {"train_pass_in_eval_mode": 0, "eval_pass_in_train_mode": 0}
    with torch.no_grad():
        model.train()
        model(x)
        model.eval()
        model(x)
    model.eval()
    model(x)
    assert monitor.wrong == {"train_pass_in_eval_mode": 1, "eval_pass_in_train_mode": 1}
    monitor.remove()


# --- sanity checks --------------------------------------------------------------------------
def test_lr_range_test_suggests_stable_rates_on_least_squares():
    # Linear least squares: plain GD diverges above lr = 2 / lambda_max of the Hessian.
    g = torch.Generator().manual_seed(0)
    scales = torch.tensor([1.0, 2.0, 3.0])
    x = torch.randn(512, 3, generator=g) * scales
    w_true = torch.tensor([[1.0], [-2.0], [0.5]])
    y = x @ w_true + 0.5 * torch.randn(512, 1, generator=g)
    hessian = 2 * (x.T @ x) / len(x)
    lr_critical = 2 / torch.linalg.eigvalsh(hessian).max().item()
    model = nn.Linear(3, 1, bias=False)
    before = model.weight.detach().clone()
    result = diag.lr_range_test(model, lambda out, target: F.mse_loss(out, target), (x, y),
                                1e-4, 10.0, 120, batch_size=64,
                                generator=torch.Generator().manual_seed(0))
    assert torch.equal(model.weight, before)           # the weights are restored
    assert result.diverged and len(result.lrs) < 120    # stopped on divergence
    low, high = result.suggested
    assert 0.02 * lr_critical < low < high < lr_critical
    assert np.all(np.diff(result.lrs) > 0)


def test_lr_range_test_rejects_bad_arguments():
    with pytest.raises(ValueError, match="lr_max"):
        diag.lr_range_test(tiny_model(), F.cross_entropy, blobs(), 1.0, 0.1, 10)


def _linear_forward(x, w):
    return torch.tanh(x @ w)


def _linear_backward(x, w, upstream, wrong=False):
    local = upstream * (1 - torch.tanh(x @ w) ** 2)
    grad_w = x.T @ local
    grad_x = local @ (w if wrong else w.T)    # the wrong one forgets the transpose
    return grad_x, grad_w


def test_gradient_check_passes_a_correct_backward_and_flags_a_wrong_one():
    g = torch.Generator().manual_seed(0)
    x, w = torch.randn(3, 4, generator=g), torch.randn(4, 4, generator=g)
    good = diag.gradient_check(_linear_forward, [x, w], _linear_backward)
    assert good.passed and good.max_relative_error < 1e-7
    bad = diag.gradient_check(_linear_forward, [x, w],
                              lambda x, w, up: _linear_backward(x, w, up, wrong=True))
    assert not bad.passed and bad.relative_errors[0] > 1e-2 and bad.relative_errors[1] < 1e-7
    # autograd through a custom Function's backward
    auto = diag.gradient_check(lambda a: BadBackward.apply(a) * 0 + a ** 3, [x], max_checks=5)
    assert auto.passed


def test_relative_error_is_the_cs231n_formula():
    a, n = torch.tensor([1.0, 0.0, -2.0]), torch.tensor([1.1, 0.0, 2.0])
    assert diag.relative_error(a, n).tolist() == pytest.approx([0.1 / 1.1, 0.0, 2.0])


def test_overfit_one_batch_reaches_zero_and_a_broken_model_does_not():
    x, y = blobs(16)
    torch.manual_seed(0)
    model = training.mlp([4, 32, 2])
    result = diag.overfit_one_batch(model, SGD(model.parameters(), lr=0.5, momentum=0.9), (x, y), 150)
    assert result.reached and result.final_loss < 0.01
    frozen = training.mlp([4, 32, 2])
    stuck = diag.overfit_one_batch(frozen, SGD(frozen.parameters(), lr=0.0), (x, y), 20)
    assert not stuck.reached and len(stuck.losses) == 21


def test_validation_noise_formula_and_an_empirical_check():
    noise = diag.validation_noise(100, 0.9)
    assert noise.standard_error == pytest.approx(0.03)
    assert noise.high - noise.low == pytest.approx(2 * 1.96 * 0.03, rel=0.02)  # ~ p ± 1.96 SE
    assert noise.low < 0.9 < noise.high
    assert diag.validation_noise(20, 1.0).low < 0.9        # 20/20 correct proves little
    # Empirical: accuracies of a p = 0.9 classifier on 2000 validation sets of 100 examples.
    rng = np.random.default_rng(0)
    measured = rng.binomial(100, 0.9, size=2000) / 100
    assert measured.std() == pytest.approx(noise.standard_error, rel=0.1)
    # ... and the interval computed from each measured accuracy contains the true 0.9 ~95% of times
    covers = {m: (lambda n: n.low <= 0.9 <= n.high)(diag.validation_noise(100, float(m)))
              for m in np.unique(measured)}
    assert 0.92 < np.mean([covers[m] for m in measured]) < 0.98
    with pytest.raises(ValueError, match="accuracy"):
        diag.validation_noise(10, 1.5)


# --- checkpoints ----------------------------------------------------------------------------
def _dropout_model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Dropout(0.3), nn.Linear(16, 2))


def test_resumed_run_is_bit_identical(tmp_path):
    data = blobs()

    def run_epochs(model, optimizer, generator, n):
        for _ in range(n):
            training.train(model, optimizer, data, epochs=1, batch_size=16, quiet=True,
                           generator=generator)

    model = _dropout_model()
    optimizer = SGD(model.parameters(), lr=0.1, momentum=0.9)
    generator = torch.Generator().manual_seed(1)
    run_epochs(model, optimizer, generator, 4)
    uninterrupted = [p.detach().clone() for p in model.parameters()]

    model = _dropout_model()
    optimizer = SGD(model.parameters(), lr=0.1, momentum=0.9)
    generator = torch.Generator().manual_seed(1)
    run_epochs(model, optimizer, generator, 2)
    path = tmp_path / "ckpt.pt"
    diag.save_checkpoint(path, model, optimizer, generator, epoch=2, extra={"note": "half"})
    torch.manual_seed(123)                       # the crash: every random state is lost
    model = _dropout_model()
    optimizer = SGD(model.parameters(), lr=0.1, momentum=0.9)
    generator = torch.Generator().manual_seed(99)
    info = diag.load_checkpoint(path, model, optimizer, generator)
    assert info["epoch"] == 2 and info["extra"] == {"note": "half"}
    run_epochs(model, optimizer, generator, 2)
    for a, b in zip(uninterrupted, model.parameters()):
        assert torch.equal(a, b)


def test_checkpoint_errors_name_the_path(tmp_path):
    model = tiny_model()
    missing = tmp_path / "nope.pt"
    with pytest.raises(ValueError, match="nope.pt.*does not exist"):
        diag.load_checkpoint(missing, model)
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"this is not a checkpoint")
    with pytest.raises(ValueError, match="corrupt.pt.*corrupt"):
        diag.load_checkpoint(corrupt, model)
    good = tmp_path / "good.pt"
    diag.save_checkpoint(good, model, epoch=1)
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(good.read_bytes()[:200])
    with pytest.raises(ValueError, match="truncated.pt"):
        diag.load_checkpoint(truncated, model)
    with pytest.raises(ValueError, match="good.pt.*does not fit"):
        diag.load_checkpoint(good, training.mlp([4, 9, 2]))
    with pytest.raises(ValueError, match="directory"):
        diag.save_checkpoint(tmp_path / "no" / "dir.pt", model)


# --- reports --------------------------------------------------------------------------------
def test_plots_and_report_run():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    model = tiny_model()
    monitors = [diag.UpdateRatioMonitor(), diag.HistogramMonitor(every=1),
                diag.DeadReLUMonitor(), diag.GradNormMonitor()]
    x, y = blobs()
    history = training.train(model, SGD(model.parameters(), lr=0.1), (x, y), epochs=2,
                             batch_size=40, val_data=(x[:30], y[:30]), quiet=True,
                             callbacks=monitors)
    curves = diag.plot_curves(history)
    assert curves[0].figure.get_size_inches()[0] <= 8.0      # fits the book's text column
    diag.plot_update_ratios(monitors[0])
    diag.plot_histograms(monitors[1], kind="gradients")
    diag.plot_dead_relus(monitors[2])
    diag.plot_grad_norms(monitors[3])
    text = diag.report(history, *monitors)
    assert "val_accuracy" in text and "gradient norm" in text
    plt.close("all")
