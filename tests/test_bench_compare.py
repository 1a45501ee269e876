"""``python -m lecture_code.bench compare``: the smoke setting end to end, and the fairness and
summary logic it rests on."""
import csv
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from lecture_code.bench import compare

ROOT = Path(__file__).resolve().parents[1]


def test_quick_run_writes_csv_markdown_and_figure(tmp_path):
    """The command line a reader types, in the smoke setting, into a temporary folder."""
    result = subprocess.run(
        [sys.executable, "-m", "lecture_code.bench", "compare", "--quick", "--out", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    with open(tmp_path / "compare.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    # one row per optimizer × model × seed
    assert len(rows) == len(compare.OPTIMIZER_NAMES) * len(compare.MODELS) * 1
    assert {r["optimizer"] for r in rows} == set(compare.OPTIMIZER_NAMES)
    assert {r["model"] for r in rows} == set(compare.MODELS)
    for row in rows:
        for key in ("final_val_accuracy", "best_val_accuracy"):
            assert 0.0 <= float(row[key]) <= 1.0
        assert float(row["best_val_accuracy"]) >= float(row["final_val_accuracy"])
        assert np.isfinite(float(row["final_train_loss"])) and float(row["time_s"]) > 0
        assert len(row["val_accuracy_per_epoch"].split()) == int(row["epochs"])
    text = (tmp_path / "compare.md").read_text()
    assert "| Adam |" in text and "AdamNorm − Adam" in text and "Command:" in text
    assert (tmp_path / "compare.png").stat().st_size > 10_000


def test_every_optimizer_of_a_seed_starts_from_the_same_weights_and_batches(monkeypatch):
    """Fairness: each run of a seed starts from the same weights and the same state of the
    generator that draws its mini-batches (hence the same batch order)."""
    seen = []
    real_train = compare.train

    def recording_train(model, optimizer, train_data, **kwargs):
        weights = [p.detach().clone() for p in model.parameters()]
        seen.append((type(optimizer).__name__, weights, kwargs["generator"].get_state()))
        return real_train(model, optimizer, train_data, **kwargs)

    monkeypatch.setattr(compare, "train", recording_train)
    setting = compare.Setting(epochs=1, seeds=(0, 1), n_train=64, mnist1d_samples=200)
    rows = compare.run(setting, ["Adam", "RAdamNorm", "AdamInject"], ["1-D CNN / MNIST-1D"],
                       torch.device("cpu"), progress=False)
    assert len(rows) == 6 and [name for name, _, _ in seen[:3]] == ["Adam", "RAdamNorm",
                                                                    "AdamInject"]
    for runs in (seen[:3], seen[3:]):
        _, weights0, state0 = runs[0]
        for _, weights, state in runs[1:]:
            assert all(torch.equal(a, b) for a, b in zip(weights, weights0))
            assert torch.equal(state, state0)
    assert not torch.equal(seen[0][1][0], seen[3][1][0])   # the seeds do differ


def test_summary_and_paired_differences():
    rows = [dict(optimizer=o, model="m", seed=s, final_val_accuracy=a)
            for o, s, a in [("Adam", 0, 0.50), ("Adam", 1, 0.60), ("Adam", 2, 0.70),
                            ("AdamNorm", 0, 0.55), ("AdamNorm", 1, 0.62), ("AdamNorm", 2, 0.69)]]
    mean, std, n = compare.summary(rows)["Adam", "m"]
    assert (mean, n) == (pytest.approx(0.6), 3) and std == pytest.approx(0.1)
    mean, std, n = compare.paired_differences(rows)["AdamNorm", "m"]
    assert mean == pytest.approx((0.05 + 0.02 - 0.01) / 3) and n == 3
    assert std == pytest.approx(np.std([0.05, 0.02, -0.01], ddof=1))


def test_bad_command_lines_are_refused(tmp_path, capsys):
    with pytest.raises(SystemExit):
        compare.main(["--quick", "--large"])
    with pytest.raises(SystemExit):
        compare.main(["--optimizers", "NoSuchOptimizer"])
    with pytest.raises(SystemExit):
        compare.main(["--quick", "--epochs", "0", "--out", str(tmp_path)])
