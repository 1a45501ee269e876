"""The MNIST-1D paper's baselines (lecture_code/bench/baselines.py)."""
import csv

import pytest
import torch

from lecture_code.bench import baselines


def test_models_have_the_papers_layer_sizes():
    # Parameter counts from the paper's layer sizes, written out by hand.
    logistic = 40 * 10 + 10
    mlp = (40 * 100 + 100) + (100 * 100 + 100) + (100 * 10 + 10)
    cnn = (1 * 25 * 5 + 25) + 2 * (25 * 25 * 3 + 25) + (25 * 5 * 10 + 10)
    gru = 2 * 3 * (6 * 1 + 6 * 6 + 2 * 6) + (2 * 6 * 40 * 10 + 10)   # two directions, 3 gates
    expected = {"logistic": logistic, "mlp": mlp, "cnn": cnn, "gru": gru}
    for name, make in baselines.MODELS.items():
        model = make()
        assert sum(p.numel() for p in model.parameters()) == expected[name], name
        assert model(torch.randn(3, 40)).shape == (3, 10), name


def test_the_mlps_second_layer_is_residual():
    model = baselines.ResidualMLP()
    torch.nn.init.zeros_(model.mid.weight)
    torch.nn.init.zeros_(model.mid.bias)   # the second layer adds relu(0) = 0 to h
    x = torch.randn(5, 40)
    assert torch.allclose(model(x), model.out(torch.relu(model.inp(x))))


def test_run_one_and_bad_model():
    train, test = baselines.paper_data(num_samples=500)
    assert train[0].shape == (400, 40) and test[0].shape == (100, 40)
    row = baselines.run_one("cnn", 0, train, test, steps=20)
    assert set(row) == set(baselines.FIELDS) and row["steps"] == 20
    assert 0 <= row["test_accuracy"] <= row["best_test_accuracy"] <= 100
    with pytest.raises(ValueError, match="model must be one of"):
        baselines.run_one("transformer", 0, train, test)


def test_main_writes_the_table_and_resumes(tmp_path):
    argv = ["--quick", "--models", "logistic", "cnn", "--out", str(tmp_path), "--device", "cpu"]
    assert baselines.main(argv) == 0
    path = tmp_path / "mnist1d_baselines.csv"
    first = list(csv.DictReader(path.open()))
    assert [(r["model"], r["seed"]) for r in first] == [("logistic", "0"), ("cnn", "0")]
    report = (tmp_path / "mnist1d_baselines.md").read_text()
    assert "| cnn | 5210 |" in report and "| 94 |" in report
    # a second run trains nothing new; a new seed adds only its rows
    assert baselines.main(argv) == 0
    assert list(csv.DictReader(path.open())) == first
    assert baselines.main(argv + ["--seeds", "1"]) == 0
    rows = list(csv.DictReader(path.open()))
    assert rows[:2] == first and [(r["model"], r["seed"]) for r in rows[2:]] == [
        ("logistic", "1"), ("cnn", "1")]


def test_a_foreign_csv_is_refused(tmp_path):
    (tmp_path / "mnist1d_baselines.csv").write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="columns"):
        baselines.main(["--quick", "--out", str(tmp_path), "--device", "cpu"])
