"""``python -m lecture_code.bench compare``: the tuning protocol (grid, widening, tuned rate,
reported seeds), resuming, fairness, the statistics, the CIFAR-10 path on a fake data set of
the real layout, and the command line's refusals."""
import csv
import math
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from lecture_code.bench import compare
from lecture_code.data import CIFAR10_FILES, cifar10

ROOT = Path(__file__).resolve().parents[1]


def _quick(tmp_path, *extra):
    return subprocess.run([sys.executable, "-m", "lecture_code.bench", "compare", "--quick",
                           "--out", str(tmp_path), *extra],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_quick_sweep_follows_the_protocol_and_resumes(tmp_path):
    """The command line a reader types: every optimizer tuned over the grid (widened at an
    edge), the tuned rate and the fixed rate run on every reported seed; a second invocation
    trains nothing new."""
    result = _quick(tmp_path, "--optimizers", "Adam", "AdamNorm", "--jobs", "2")
    assert result.returncode == 0, result.stderr[-3000:]
    rows = compare.read_csv(tmp_path / "compare.csv")
    protocol = compare.QUICK["protocol"]
    title = compare.TASKS["cnn"].title
    for optimizer in ("Adam", "AdamNorm"):
        runs = [r for r in rows if r["optimizer"] == optimizer]
        grid = sorted({r["lr"] for r in runs})
        assert set(protocol.lrs) <= set(grid) and len(grid) <= len(protocol.lrs) + protocol.max_widen
        best = compare.tuned_lr(rows, title, optimizer, protocol.tune_seeds)
        curve = compare.sensitivity(rows, title, optimizer, protocol.tune_seeds)
        assert curve[best] == max(curve.values())
        if best in (grid[0], grid[-1]):       # at an edge only once the widening is used up
            assert len(grid) == len(protocol.lrs) + protocol.max_widen
        for lr in {best, protocol.fixed_lr}:
            assert sorted(r["seed"] for r in runs if r["lr"] == lr) == list(protocol.seeds)
        for r in runs:
            assert r["steps"] == 40 and 0 <= r["test_accuracy"] <= 1 and r["seconds"] > 0
            assert len(r["val_curve"]) == 40 // 10
    text = (tmp_path / "compare.md").read_text()
    assert "| AdamNorm − Adam |" in text and "Command:" in text
    assert (tmp_path / "compare.png").stat().st_size > 10_000

    again = _quick(tmp_path, "--optimizers", "Adam", "AdamNorm")
    assert again.returncode == 0, again.stderr[-3000:]
    assert len(compare.read_csv(tmp_path / "compare.csv")) == len(rows)


def test_an_interrupted_sweep_resumes_from_its_csv(tmp_path, monkeypatch):
    """Rows already in the CSV are not trained again; only the missing ones are."""
    task = compare.replace(compare.TASKS["cnn"], steps=5, eval_every=5)
    protocol = compare.Protocol(lrs=(1e-3, 2e-3, 4e-3), tune_seeds=(0,), seeds=(0,),
                                max_widen=0, fixed_lr=None)
    calls = []
    real = compare.run_one

    def counting(task, optimizer, lr, seed, data, device):
        calls.append((optimizer, lr, seed))
        return real(task, optimizer, lr, seed, data, device)

    monkeypatch.setattr(compare, "run_one", counting)
    path = tmp_path / "compare.csv"
    compare.sweep([task], ["Adam"], protocol, path, progress=False)
    assert sorted(calls) == [("Adam", lr, 0) for lr in protocol.lrs]
    rows = compare.read_csv(path)
    compare._write_csv(rows[:1], path)                   # as if stopped after the first run
    calls.clear()
    compare.sweep([task], ["Adam"], protocol, path, progress=False)
    assert len(calls) == 2 and (rows[0]["optimizer"], rows[0]["lr"], 0) not in calls
    assert len(compare.read_csv(path)) == 3


def test_every_run_of_a_seed_starts_from_the_same_weights_and_batches(monkeypatch):
    """Fairness: two optimizers (and two rates) of one seed start from the same weights and
    the same state of the generator that draws the mini-batches; other seeds differ."""
    seen = []
    real_train = compare.train

    def recording_train(model, optimizer, train_data, **kwargs):
        seen.append(([p.detach().clone() for p in model.parameters()],
                     kwargs["generator"].get_state()))
        return real_train(model, optimizer, train_data, **kwargs)

    monkeypatch.setattr(compare, "train", recording_train)
    task = compare.replace(compare.TASKS["cnn"], steps=3, eval_every=3)
    data = compare.load("mnist1d")
    for optimizer, lr, seed in [("Adam", 1e-3, 0), ("RAdamNorm", 4e-3, 0), ("Adam", 1e-3, 1)]:
        compare.run_one(task, optimizer, lr, seed, data, torch.device("cpu"))
    (w0, g0), (w1, g1), (w2, g2) = seen
    assert all(torch.equal(a, b) for a, b in zip(w0, w1)) and torch.equal(g0, g1)
    assert not torch.equal(w0[0], w2[0]) and not torch.equal(g0, g2)


def test_validation_and_test_splits_are_disjoint_and_fixed():
    (x_train, _), (x_val, _), (x_test, _) = compare.load("mnist1d")
    assert (len(x_train), len(x_val), len(x_test)) == (3200, 800, 1000)
    rows = {tuple(r.tolist()) for r in x_train}
    assert not rows & {tuple(r.tolist()) for r in x_val}


def _row(optimizer, lr, seed, val, test=None):
    return dict(task="t", optimizer=optimizer, lr=lr, seed=seed, val_accuracy=val,
                test_accuracy=val if test is None else test, steps_to_target=None,
                seconds_to_target=None, train_loss=0.1, seconds=1.0)


def test_tuned_rate_is_chosen_on_validation_and_diverged_rates_lose():
    rows = [_row("Adam", 1e-3, s, 0.80) for s in (0, 1)] + \
           [_row("Adam", 2e-3, s, v, test=0.10) for s, v in ((0, 0.90), (1, 0.88))] + \
           [_row("Adam", 4e-3, 0, math.nan), _row("Adam", 4e-3, 1, 0.99)]
    assert compare.tuned_lr(rows, "t", "Adam", (0, 1)) == 2e-3   # test accuracy plays no part
    curve = compare.sensitivity(rows, "t", "Adam", (0, 1))
    assert curve[1e-3] == pytest.approx(0.80) and math.isnan(curve[4e-3])
    with pytest.raises(ValueError, match="no tuning runs"):
        compare.tuned_lr(rows, "t", "AdaBelief", (0, 1))


def test_widening_adds_a_rate_beyond_the_edge_the_best_sits_on():
    task = compare.replace(compare.TASKS["cnn"], title="t", steps=1, batch_size=100)
    protocol = compare.Protocol(lrs=(1e-3, 2e-3), tune_seeds=(0,), seeds=(0,), max_widen=1,
                                fixed_lr=None)
    rows = [dict(_row("Adam", 1e-3, 0, 0.5), steps=1, batch_size=100),
            dict(_row("Adam", 2e-3, 0, 0.6), steps=1, batch_size=100)]
    assert [(o, lr, s) for _, o, lr, s in compare._pending(rows, [task], ["Adam"], protocol)] \
        == [("Adam", 4e-3, 0)]
    rows.append(dict(_row("Adam", 4e-3, 0, 0.7), steps=1, batch_size=100))
    assert compare._pending(rows, [task], ["Adam"], protocol) == []   # widening used up


def test_t_interval_and_paired_differences():
    mean, half, n = compare.t_interval([0.5, 0.6, 0.7])
    # t(0.975, 2) = 4.3027; standard error 0.1 / sqrt(3)
    assert (mean, n) == (pytest.approx(0.6), 3) and half == pytest.approx(4.302653 * 0.1 / 3 ** 0.5)
    a = [dict(seed=s, test_accuracy=v) for s, v in ((0, 0.50), (1, 0.60), (2, 0.70))]
    b = [dict(seed=s, test_accuracy=v) for s, v in ((2, 0.69), (0, 0.55), (1, 0.62))]
    mean, half, n = compare.paired(a, b)
    d = np.array([0.05, 0.02, -0.01])
    assert mean == pytest.approx(d.mean()) and n == 3
    assert half == pytest.approx(4.302653 * d.std(ddof=1) / 3 ** 0.5, rel=1e-5)


def _fake_cifar(folder: Path, per_batch: int = 20):
    """CIFAR-10's python layout (data_batch_1..5, test_batch) with random images."""
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True)
    for name in CIFAR10_FILES:
        batch = {b"data": rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8),
                 b"labels": list(rng.integers(0, 10, per_batch).tolist()),
                 b"batch_label": name.encode()}
        with open(folder / name, "wb") as f:
            pickle.dump(batch, f)


def test_cifar10_reader_on_a_fake_data_set_of_the_real_layout(tmp_path):
    _fake_cifar(tmp_path / "cifar-10-batches-py")
    (x, y), (x_test, y_test) = cifar10(tmp_path)          # the folder above works too
    assert x.shape == (100, 3, 32, 32) and x_test.shape == (20, 3, 32, 32)
    assert y.dtype == torch.int64 and int(y.max()) <= 9
    assert torch.allclose(x.mean(dim=(0, 2, 3)), torch.zeros(3), atol=1e-5)
    with pytest.raises(ValueError, match="test_batch"):
        (tmp_path / "cifar-10-batches-py" / "test_batch").unlink()
        cifar10(tmp_path)
    with pytest.raises(TypeError, match="data_dir"):
        cifar10(42)


def test_cifar10_sweep_runs_on_the_fake_data_set(tmp_path):
    _fake_cifar(tmp_path / "data")
    result = _quick(tmp_path / "out", "--dataset", "cifar10", "--data-dir", str(tmp_path / "data"),
                    "--optimizers", "Adam", "--steps", "2", "--lrs", "1e-3", "2e-3",
                    "--max-widen", "0")
    assert result.returncode == 0, result.stderr[-3000:]
    rows = compare.read_csv(tmp_path / "out" / "compare.csv")
    assert {r["task"] for r in rows} == {"VGG / CIFAR-10"} and all(r["steps"] == 2 for r in rows)


def test_vgg_cifar_shapes():
    model = compare.vgg_cifar(width=4)
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)


def test_bad_command_lines_are_refused(tmp_path, capsys):
    for argv in (["--optimizers", "NoSuchOptimizer"], ["--steps", "0"], ["--jobs", "0"],
                 ["--dataset", "cifar10"], ["--tasks", "vgg"], ["--lrs", "-1"],
                 ["--tune-seeds", "7"], ["--max-widen", "-1"]):
        with pytest.raises(SystemExit):
            compare.main([*argv, "--out", str(tmp_path)])
    if not torch.cuda.is_available():
        with pytest.raises(SystemExit):
            compare.main(["--device", "cuda", "--out", str(tmp_path)])
        assert "no CUDA GPU" in capsys.readouterr().err
    assert not (tmp_path / "compare.csv").exists()


def test_a_csv_of_another_bench_is_refused(tmp_path):
    path = tmp_path / "compare.csv"
    with path.open("w", newline="") as f:
        csv.writer(f).writerows([["optimizer", "model"], ["Adam", "m"]])
    with pytest.raises(ValueError, match="columns"):
        compare.read_csv(path)
