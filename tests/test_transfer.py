"""lecture_code.transfer: freezing, the source task, saving/loading and the command line."""
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from lecture_code import transfer as T
from lecture_code.optimizers import SGD, AdamW

torch.set_num_threads(1)


def batch(n=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 1, 16, 16, generator=g), torch.randint(0, 5, (n,), generator=g)


def one_step(model, optimizer):
    x, y = batch()
    loss = F.cross_entropy(model(x), y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()


@pytest.mark.parametrize("arch", ["vgg", "resnet"])
def test_sizes_and_features(arch):
    model = T.SmallCNN(arch, num_classes=5)
    assert 100_000 <= sum(p.numel() for p in model.parameters()) <= 300_000
    x, _ = batch()
    shapes = [tuple(model.features(x, k).shape) for k in range(1, 5)]
    assert shapes == [(8, 16, 8, 8), (8, 32, 4, 4), (8, 64, 2, 2), (8, 128, 2, 2)]
    assert model.features(x, pooled=True).shape == (8, 128)
    assert model(x).shape == (8, 5)
    # starting from a stage's output gives the same logits as starting from the image
    torch.testing.assert_close(model(model.features(x, 2), start=2), model(x))
    with pytest.raises(ValueError, match="stage=5"):
        model.features(x, 5)


@pytest.mark.parametrize("arch", ["vgg", "resnet"])
@pytest.mark.parametrize("make_optimizer", [
    lambda p: SGD(p, lr=0.1, momentum=0.9, weight_decay=1e-2),
    lambda p: AdamW(p, lr=1e-2, weight_decay=0.1)])
def test_freezing_stops_updates_and_unfreezing_restarts_them(arch, make_optimizer):
    torch.manual_seed(0)
    model = T.SmallCNN(arch, num_classes=5).freeze_until(2)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    one_step(model, make_optimizer(model.parameters()))
    after = model.state_dict()
    for k in before:
        frozen = k.startswith(("stages.0.", "stages.1."))
        assert torch.equal(before[k], after[k]) == frozen, k
    assert all(p.grad is None for p in model.stages[:2].parameters())
    assert not model.stages[0].training and model.stages[2].training
    # unfreeze: every parameter moves again
    model.unfreeze()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    one_step(model, make_optimizer(model.parameters()))
    assert all(not torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_linear_probe_trains_only_the_head():
    model = T.SmallCNN(num_classes=5).new_head(7).freeze_until(4)
    assert T.trainable_parameters(model) == 128 * 7 + 7
    assert model(batch()[0]).shape == (8, 7)


def test_source_task_is_deterministic_and_disjoint_from_the_target():
    labels = torch.arange(48)
    a, b = T.textured_shapes(labels, seed=3), T.textured_shapes(labels, seed=3)
    assert torch.equal(a, b) and a.shape == (48, 1, 16, 16)
    assert 0 <= a.min() and a.max() <= 1
    assert not torch.equal(a, T.textured_shapes(labels, seed=4))
    assert len(T.HELD_OUT) == 10 and not set(T.HELD_OUT) & set(T.SOURCE_CLASSES)
    assert len(T.SOURCE_CLASSES) + len(T.HELD_OUT) == 48
    with pytest.raises(ValueError, match="labels"):
        T.textured_shapes([48])


@pytest.mark.parametrize("similarity", ["similar", "different"])
@pytest.mark.parametrize("amount", ["little", "lot"])
def test_target_tasks(similarity, amount):
    task = T.target_task(similarity, amount, seed=1)
    x, y = task["train"]
    assert x.shape[1:] == (1, 16, 16) and len(y) == T.AMOUNTS[amount]
    assert set(y.tolist()) <= set(range(10)) and len(task["val"][1]) >= 497


# ---------------------------------------------------------------------- save and load
@pytest.fixture
def saved(tmp_path):
    torch.manual_seed(0)
    model = T.SmallCNN("resnet", num_classes=6)
    path = tmp_path / "w.safetensors"
    sha = T.save_weights(model, path)
    return model, path, sha


def test_round_trip(saved):
    model, path, sha = saved
    for loaded in (T.load_pretrained(path), T.load_pretrained(str(path), sha256=sha),
                   T.load_pretrained(path, sha256=sha[:10].upper()),
                   T.load_pretrained(path, model=T.SmallCNN("resnet", num_classes=6))):
        assert loaded.arch == "resnet" and loaded.head.out_features == 6
        for k, v in model.state_dict().items():
            assert torch.equal(loaded.state_dict()[k], v)


def test_url_round_trip_through_the_hub_cache(saved, tmp_path, monkeypatch):
    model, path, sha = saved
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    named = tmp_path / f"w-{sha[:8]}.safetensors"  # torch.hub's name-<hash prefix> convention
    named.write_bytes(path.read_bytes())
    loaded = T.load_pretrained(named.as_uri())
    assert (tmp_path / "hub" / "checkpoints" / named.name).exists()
    assert torch.equal(loaded.head.weight, model.head.weight)
    bad = tmp_path / "w-deadbeef.safetensors"
    bad.write_bytes(path.read_bytes())
    with pytest.raises(ValueError, match="sha256 mismatch"):
        T.load_pretrained(bad.as_uri())


def test_sha_mismatch(saved):
    _, path, sha = saved
    with pytest.raises(ValueError, match="sha256 mismatch"):
        T.load_pretrained(path, sha256="0" * 64)


@pytest.mark.parametrize("corrupt", [
    lambda data: data[:len(data) // 2],                     # truncated
    lambda data: b"\x00" * 16 + data[16:],                  # header destroyed
    lambda data: b"not a weights file at all"])
def test_corrupt_bytes(saved, corrupt, tmp_path):
    _, path, _ = saved
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(corrupt(path.read_bytes()))
    with pytest.raises(ValueError, match="not a valid safetensors file"):
        T.load_pretrained(broken)


def test_wrong_shapes_never_half_load(saved):
    _, path, _ = saved
    target = T.SmallCNN("resnet", num_classes=10)
    before = {k: v.clone() for k, v in target.state_dict().items()}
    with pytest.raises(ValueError, match="wrong shapes.*head.weight"):
        T.load_pretrained(path, model=target)
    assert all(torch.equal(before[k], v) for k, v in target.state_dict().items())
    with pytest.raises(ValueError, match="missing|unexpected"):
        T.load_pretrained(path, model=T.SmallCNN("vgg", num_classes=6))


def test_missing_file_and_missing_metadata(tmp_path):
    from safetensors.torch import save_file
    with pytest.raises(ValueError, match="neither a known name"):
        T.load_pretrained(tmp_path / "nothing.safetensors")
    plain = tmp_path / "plain.safetensors"
    save_file({"a": torch.zeros(2)}, str(plain))
    with pytest.raises(ValueError, match="architecture metadata"):
        T.load_pretrained(plain)


def test_shipped_weights_load_and_are_small():
    entry = T.PRETRAINED["vgg-shapes16"]
    path = T.WEIGHTS_DIR / entry["file"]
    assert path.stat().st_size < 5_000_000 and entry["sha256"]
    model = T.load_pretrained("vgg-shapes16")
    assert model.head.out_features == len(T.SOURCE_CLASSES)
    sidecar = json.loads(path.with_suffix(".json").read_text())
    assert sidecar["sha256"] == entry["sha256"] and "command" in sidecar


# --------------------------------------------------------------------------- command line
def test_pretrain_command_quick(tmp_path):
    out = tmp_path / "quick.safetensors"
    start = time.time()
    result = subprocess.run([sys.executable, "-m", "lecture_code.bench", "transfer", "pretrain",
                             "--out", str(out), "--quick", "--seed", "3"], capture_output=True,
                            text=True, cwd=Path(__file__).resolve().parents[1])
    assert result.returncode == 0, result.stderr
    assert time.time() - start < 60
    record = json.loads(out.with_suffix(".json").read_text())
    assert record["seed"] == 3 and record["quick"] and "pretrain" in record["command"]
    assert record["command"].startswith("python -m lecture_code.bench transfer pretrain --out")
    assert record["data"]["held_out_classes"] == list(T.HELD_OUT)
    model = T.load_pretrained(out, sha256=record["sha256"])
    assert model.head.out_features == len(T.SOURCE_CLASSES)


def test_run_method_smoke():
    pretrained = T.SmallCNN(num_classes=len(T.SOURCE_CLASSES))
    task = T.target_task("different", "little", seed=0)
    for method in T.METHODS:
        acc = T.run_method(method, task, pretrained, seed=0, steps=2)
        assert 0.0 <= acc <= 1.0


def test_table_command_quick_writes_csv_and_provenance(tmp_path, monkeypatch):
    from lecture_code.bench import transfer as command
    out = tmp_path / "table.csv"
    pretrained = T.SmallCNN(num_classes=len(T.SOURCE_CLASSES))
    monkeypatch.setattr(command, "load_pretrained", lambda source: pretrained)
    monkeypatch.setattr(command, "transfer_table", lambda model, **kw: [
        {"similarity": s, "amount": a, "n_train": 5, "method": m, "steps": 1,
         "accuracy_mean": 0.5 + 0.1 * i, "accuracy_std": 0.0, "accuracies": ""}
        for s in ("similar", "different") for a in ("little", "lot")
        for i, m in enumerate(T.METHODS)])
    monkeypatch.setattr(sys, "argv", ["-m", "transfer", "table", "--out", str(out), "--quick"])
    assert command.main(["table", "--out", str(out), "--quick"]) == 0
    page = out.with_suffix(".md").read_text()
    assert "Command: `python -m lecture_code.bench transfer table --out" in page
    assert page.count("**0.800 ± 0.000**") == 4 and "Use linear classifier on top layer" in page
    assert len(out.read_text().splitlines()) == 1 + 4 * len(T.METHODS)
