"""``python -m lecture_code.bench regularization``: the tuning protocol (grids, the tuned
strength on validation, the reported seeds, early stopping), the configurations it builds
(penalties, decoupled decay on weights only, the same initial weights for every regularizer),
resuming, determinism, the statistics and the command line's refusals."""
import csv
import math
import subprocess
import sys
from functools import partial
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lecture_code.augment import RandomSignalJitter, roll_signals
from lecture_code.bench import regularization as reg
from lecture_code.regularization import (DropConnect, elastic_net_penalty, l1_penalty,
                                         l2_penalty, penalized_parameters)

ROOT = Path(__file__).resolve().parents[1]
TINY = reg.Protocol(tune_seeds=(0,), seeds=(0, 1), digit_seeds=(0,), regimes=("small",),
                    sizes=(125, 500), digit_sizes=(50,))
STEPS = dict.fromkeys((*reg.REGIMES, "digits"), 20)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    path = tmp_path_factory.mktemp("reg") / "regularization.csv"
    rows = reg.sweep(TINY, path, steps=STEPS, progress=False)
    return path, rows


def test_the_sweep_follows_the_protocol(tiny):
    """Every grid on the tuning seeds; the tuned strength on every reported seed; the combined
    technique on top of augmentation's tuned strength; sizes and digits at their settings."""
    path, rows = tiny
    for technique in reg.TECHNIQUES.values():
        mine = reg.runs(rows, "small", technique.label)
        choice = reg.tuned(rows, "small", technique, TINY)
        assert choice is not None, technique.label
        curve = reg.sensitivity(rows, "small", technique, TINY)
        assert len(curve) == max(1, len(technique.grid))
        assert curve[choice["strength"]] == max(curve.values())
        assert sorted(r["seed"] for r in mine if r["config"] == choice["config"]) == [0, 1]
        for r in mine:
            assert r["steps"] == 20 and r["n_train"] == 500 and 0 <= r["test_accuracy"] <= 1
            assert len(r["val_curve"]) == len(r["test_curve"]) == 1
    shift = reg.tuned(rows, "small", reg.TECHNIQUES["augmentation"], TINY)["strength"]
    assert all(reg.parse_config(r["config"])["shift"] == shift
               for r in reg.runs(rows, "small", "augmentation + dropout"))
    for technique in reg.SIZE_TECHNIQUES:
        assert {(r["n_train"], r["seed"]) for r in reg.runs(rows, "sizes", technique)} == {
            (n, s) for n in TINY.sizes for s in TINY.seeds}
    assert {r["technique"] for r in rows if r["experiment"] == "digits"} == set(
        reg.digit_conditions())
    again = reg.sweep(TINY, path, steps=STEPS, progress=False)
    assert len(again) == len(rows)                       # nothing new to train


def test_runs_are_deterministic_and_paired_by_seed(tiny):
    """The sizes experiment at n = 500 repeats the small regime's runs: same numbers."""
    _, rows = tiny
    for seed in TINY.seeds:
        a = reg.runs(rows, "small", "none", config="", seeds=(seed,))[0]
        b = reg.runs(rows, "sizes", "none", n_train=500, seeds=(seed,))[0]
        assert a["test_accuracy"] == b["test_accuracy"]
        assert np.array_equal(a["val_curve"], b["val_curve"])


def test_the_report_and_figure(tiny, tmp_path):
    path, rows = tiny
    text = "\n".join(reg.markdown(rows, TINY, 1.0))
    assert "| early stopping |" in text and "| DropConnect |" in text and "n = 125" in text
    reg.figure(rows, TINY, tmp_path / "f.png")
    assert (tmp_path / "f.png").stat().st_size > 10_000


def _row(technique, config, seed, val, test, train=1.0, strength=None, **extra):
    return {"experiment": "small", "technique": technique, "config": config,
            "strength": strength, "n_train": 500, "steps": 3000, "seed": seed,
            "val_accuracy": val, "test_accuracy": test, "train_accuracy": train, **extra}


def test_the_strength_is_tuned_on_validation_never_test():
    """Validation prefers 0.3, test prefers 0.1: 0.3 is chosen. A diverged seed makes its
    strength the worst; ties go to the weaker strength."""
    protocol = reg.Protocol(tune_seeds=(0, 1), seeds=(0, 1))
    dropout = reg.TECHNIQUES["dropout"]
    val = {**dict.fromkeys(dropout.grid, 0.5), 0.3: 0.60, 0.5: 0.55}
    test = {**dict.fromkeys(dropout.grid, 0.5), dropout.grid[0]: 0.90}
    rows = [_row("dropout", f"dropout={p:g}", s, val[p], test[p], strength=p)
            for p in dropout.grid for s in (0, 1)]
    assert reg.tuned(rows, "small", dropout, protocol)["strength"] == 0.3
    next(r for r in rows if r["strength"] == 0.3)["val_accuracy"] = math.nan   # a seed diverged
    assert reg.tuned(rows, "small", dropout, protocol)["strength"] == 0.5
    tie = [_row("dropout", f"dropout={p:g}", s, 0.5, 0.5, strength=p) for p in dropout.grid
           for s in (0, 1)]
    choice = reg.tuned(tie, "small", dropout, protocol)
    assert choice["strength"] == dropout.grid[0] and choice["at_edge"]
    assert reg.tuned(rows[:-1], "small", dropout, protocol) is None   # grid not finished


def test_gaps_and_paired_differences_by_hand():
    protocol = reg.Protocol(tune_seeds=(0,), seeds=(0, 1, 2))
    # three evaluations: validation accuracy peaks at the second, validation loss at the first
    curves = {"val_curve": np.array([0.4, 0.6, 0.5]), "val_loss_curve": np.array([1.0, 1.5, 2.0]),
              "train_curve": np.array([0.7, 0.8, 1.0])}
    base = [_row("none", "", s, 0.5, t, train=1.0, steps=300, **curves,
                 test_curve=np.array([t - 0.1, t + 0.05, t]))
            for s, t in enumerate((0.40, 0.42, 0.44))]
    bn = [_row("batch norm", "batch_norm=1", s, 0.6, t, train=0.9)
          for s, t in enumerate((0.45, 0.46, 0.50))]
    result = reg.results(base + bn, "small", protocol)
    mean, half, n = result["batch norm"]["delta_test"]
    diffs = np.array([0.05, 0.04, 0.06])
    assert n == 3 and math.isclose(mean, diffs.mean())
    assert math.isclose(half, 4.302652729911275 * diffs.std(ddof=1) / math.sqrt(3))
    gap_diffs = (0.9 - np.array([0.45, 0.46, 0.50])) - (1.0 - np.array([0.40, 0.42, 0.44]))
    assert math.isclose(result["batch norm"]["delta_gap"][0], gap_diffs.mean())
    early = result[reg.EARLY_STOPPING]                  # stopped at step 200
    assert early["strength"] == 200 and math.isclose(early["delta_test"][0], 0.05)
    assert math.isclose(early["gap"][0], np.mean([0.8 - t - 0.05 for t in (0.40, 0.42, 0.44)]))
    by_loss = result[reg.EARLY_STOPPING_LOSS]           # stopped at step 100
    assert by_loss["strength"] == 100 and math.isclose(by_loss["delta_test"][0], -0.1)
    assert math.isclose(by_loss["train"][0], 0.7)


def test_every_regularizer_starts_from_the_same_weights():
    def linears(model):
        return [m.linear.weight if isinstance(m, DropConnect) else m.weight
                for m in model.modules()
                if isinstance(m, (torch.nn.Linear, DropConnect)) and not (
                    isinstance(m, torch.nn.Linear) and any(
                        isinstance(d, DropConnect) and d.linear is m for d in model.modules()))]

    reference = linears(reg.build({}, 3)[0])
    for config in ({"l2": 1e-3}, {"decay": 0.1}, {"dropout": 0.5}, {"dropconnect": 0.5},
                   {"batch_norm": 1}, {"shift": 4}, {"batch_norm": 1, "dropout": 0.3}):
        weights = linears(reg.build(config, 3)[0])
        assert len(weights) == 3
        assert all(torch.equal(a, b) for a, b in zip(reference, weights)), config


def test_the_penalties_are_the_published_ones():
    """The built loss is cross-entropy plus λR(W) over the weights (not the biases)."""
    x, y = torch.randn(8, 40), torch.randint(0, 10, (8,))
    for knob, penalty in (("l2", l2_penalty), ("l1", l1_penalty),
                          ("elastic", partial(elastic_net_penalty, beta=reg.ELASTIC_BETA))):
        model, _, loss_fn = reg.build({knob: 0.01}, 0)
        expected = F.cross_entropy(model(x), y) + 0.01 * penalty(penalized_parameters(model))
        assert torch.allclose(loss_fn(model(x), y), expected)


def test_weight_decay_is_decoupled_and_spares_the_biases():
    model, optimizer, _ = reg.build({"decay": 0.5}, 0)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    for p in model.parameters():
        p.grad = torch.zeros_like(p)                      # no gradient: only the decay acts
    optimizer.step()
    for name, p in model.named_parameters():
        factor = 1 - reg.LR * 0.5 if name.endswith("weight") else 1.0
        assert torch.allclose(p, before[name] * factor), name


def test_training_subsets_are_nested_and_apart_from_validation():
    pool, val, test = reg.mnist1d_data()
    assert len(pool[1]) == 3500 and len(val[1]) == reg.N_VAL and len(test[1]) == 1000
    small = reg.training_subset(pool, 125, 2)[0]
    large = reg.training_subset(pool, 500, 2)[0]
    assert torch.equal(small, large[:125])
    assert not torch.equal(small, reg.training_subset(pool, 125, 3)[0])
    val_rows = {tuple(v.tolist()) for v in val[0]}
    assert not any(tuple(v.tolist()) in val_rows for v in large)
    with pytest.raises(ValueError, match="n_train"):
        reg.training_subset(pool, 4000, 0)


def test_signal_jitter_matches_numpy_roll_and_keeps_its_ranges():
    x = torch.randn(5, 40)
    shifts = torch.tensor([0, 1, -3, 17, 40])
    assert all(np.allclose(roll_signals(x, shifts)[i], np.roll(x[i].numpy(), int(shifts[i])))
               for i in range(5))
    jitter = RandomSignalJitter(3, scale=0.2)
    out = jitter(x, generator=torch.Generator().manual_seed(0))
    assert torch.equal(out, jitter(x, generator=torch.Generator().manual_seed(0)))
    for i in range(5):          # some shift within ±3 and one amplitude within [0.8, 1.2]
        ratios = [(out[i] / torch.roll(x[i], s)) for s in range(-3, 4)]
        assert any(torch.allclose(r, r[0].expand_as(r), atol=1e-5) and 0.8 <= r[0] <= 1.2
                   for r in ratios)
    assert torch.equal(RandomSignalJitter(0, 0.0)(x), x)
    with pytest.raises(ValueError, match="max_shift"):
        RandomSignalJitter(-1)
    with pytest.raises(ValueError, match="shifts"):
        roll_signals(x, torch.tensor([1.5] * 5))
    with pytest.raises(ValueError, match=r"\(N, L\)"):
        roll_signals(torch.randn(2, 3, 4), torch.tensor([1, 2]))


def test_an_interrupted_sweep_resumes_from_its_csv(tmp_path, monkeypatch):
    protocol = reg.Protocol(tune_seeds=(0,), seeds=(0,), digit_seeds=(0,), regimes=("short",),
                            sizes=(), digit_sizes=())
    monkeypatch.setattr(reg, "TECHNIQUES", {k: reg.TECHNIQUES[k] for k in ("none", "L2")})
    calls = []
    real = reg.run_one
    monkeypatch.setattr(reg, "run_one", lambda job, device="cpu": calls.append(job) or real(job))
    path = tmp_path / "regularization.csv"
    reg.sweep(protocol, path, steps={"short": 5}, progress=False)
    assert len(calls) == 1 + len(reg.TECHNIQUES["L2"].grid)
    rows = reg.read_csv(path)
    reg._write_csv(rows[:2], path)                        # as if stopped after two runs
    calls.clear()
    reg.sweep(protocol, path, steps={"short": 5}, progress=False)
    assert len(calls) == len(rows) - 2 and len(reg.read_csv(path)) == len(rows)


def test_a_diverged_run_is_recorded_not_lost(monkeypatch):
    job = reg.Job("small", "L2", (("l2", 1e38),), 1e38, 50, 5, 50, 5, 0)
    row = reg.run_one(job)
    assert row["diverged_at"] == 1 and math.isnan(row["test_accuracy"])


def test_bad_command_lines_are_refused(tmp_path, capsys):
    for argv in (["--jobs", "0"], ["--regimes", "huge"], ["--tune-seeds", "11"],
                 ["--seeds", "-1", "0", "1"], ["--sizes", "0"], ["--digit-sizes", "5000"]):
        with pytest.raises(SystemExit):
            reg.main([*argv, "--out", str(tmp_path)])
    if not torch.cuda.is_available():
        with pytest.raises(SystemExit):
            reg.main(["--device", "cuda", "--out", str(tmp_path)])
        assert "no CUDA GPU" in capsys.readouterr().err
    assert not (tmp_path / "regularization.csv").exists()


def test_a_csv_of_another_bench_is_refused(tmp_path):
    path = tmp_path / "regularization.csv"
    with path.open("w", newline="") as f:
        csv.writer(f).writerows([["optimizer", "lr"], ["Adam", "1e-3"]])
    with pytest.raises(ValueError, match="columns"):
        reg.read_csv(path)


def test_the_quick_command_line(tmp_path):
    result = subprocess.run([sys.executable, "-m", "lecture_code.bench", "regularization",
                             "--quick", "--regimes", "short", "--digit-sizes", "--out",
                             str(tmp_path)],
                            cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    text = (tmp_path / "regularization.md").read_text()
    assert "Regime `short`" in text and "Digits" not in text      # --digit-sizes alone: skipped


def test_the_full_batch_regime_runs_only_its_techniques_on_the_whole_training_set():
    protocol = reg.Protocol(tune_seeds=(0,), seeds=(0, 1), regimes=("fullbatch",), sizes=(),
                            digit_sizes=())
    jobs = reg._pending([], protocol)
    assert {j.technique for j in jobs} == {"none", "batch norm"}
    assert all(j.batch_size == j.n_train == 500 for j in jobs)
