"""The benchmark commands' bookkeeping (speed itself is measured by the benchmarks, not tested)."""
import torch

from lecture_code.bench import __main__ as bench_main
from lecture_code.bench import optimizers as bench
from lecture_code.optimizers import OPTIMIZERS


def test_every_optimizer_has_a_traffic_model():
    for name in OPTIMIZERS:
        assert bench.bytes_per_parameter(name) >= 20
    assert bench.bytes_per_parameter("Adam") == 28  # read p, g, m, v; write p, m, v


def test_byte_bound_and_target_verdicts():
    assert bench.byte_bound("Adam") == 1.0
    assert bench.byte_bound("DiffGradInject") == (36 + 8) / 28   # beyond 1.5 by bytes alone
    row = {"setup": "flat", "optimizer": "Adam", "torch_twin": "torch Adam fused",
           "vs_torch": 1.25, "vs_fused_adam": 1.25, "vs_pytorch_optimizer": ""}
    assert bench.target(row) == "≤ 1.2× twin: missed"
    assert bench.target(dict(row, setup="resnet")) == "≤ 1.5× twin: met"
    row = {"setup": "flat", "optimizer": "DiffGrad", "torch_twin": "", "vs_torch": "",
           "vs_fused_adam": 1.4, "vs_pytorch_optimizer": 0.19}
    assert bench.target(row).endswith(": met")
    assert bench.target(dict(row, vs_pytorch_optimizer=0.25)).endswith(": missed")


def test_state_bytes_count_only_per_element_buffers():
    params = [torch.nn.Parameter(torch.zeros(10)) for _ in range(3)]
    for p in params:
        p.grad = torch.ones(10)
    optimizer = OPTIMIZERS["AdamNorm"](params, lr=1e-3)
    optimizer.step()
    assert bench.state_bytes_per_parameter(optimizer) == 8  # m and v; e and step are scalars


def test_resnet_parameter_set_is_resnet_sized():
    shapes = bench.resnet_shapes()
    numel = sum(torch.Size(s).numel() for s in shapes)
    assert 40 <= len(shapes) <= 70 and 5e5 <= numel <= 2e6


def test_unknown_command_prints_usage(capsys):
    assert bench_main.main(["nonsense"]) == 2
    assert "optimizers" in capsys.readouterr().out


def test_grading_bench_makes_a_class_of_distinct_honest_submissions(tmp_path):
    import hashlib
    import json

    from lecture_code.bench import grading as bench_grading
    bench_grading.make_class(tmp_path, "sgd_momentum", 5)
    files = sorted(tmp_path.iterdir())
    assert [f.name for f in files] == [f"student{i:03d}.ipynb" for i in range(5)]
    assert len({hashlib.sha256(f.read_bytes()).hexdigest() for f in files}) == 5
    source = "".join("".join(c["source"]) for c in json.loads(files[0].read_text())["cells"])
    assert "BEGIN HIDDEN TESTS" not in source and "return x - lr * grad" in source
