"""The benchmark commands' bookkeeping (speed itself is measured by the benchmarks, not tested)."""
import torch

from lecture_code.bench import __main__ as bench_main
from lecture_code.bench import optimizers as bench
from lecture_code.optimizers import OPTIMIZERS


def test_every_optimizer_has_a_traffic_model():
    for name in OPTIMIZERS:
        assert bench.bytes_per_parameter(name) >= 20
    assert bench.bytes_per_parameter("Adam") == 28  # read p, g, m, v; write p, m, v


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
