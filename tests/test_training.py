import math

import pytest
import torch

from lecture_code import data, device, training
from lecture_code.optimizers import SGD


def small_problem(seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(200, 5, generator=g)
    y = (x[:, 0] > 0).long()
    return x, y


def test_train_records_losses_and_metrics_and_learns():
    x, y = small_problem()
    torch.manual_seed(0)
    model = training.mlp([5, 16, 2])
    history = training.train(model, SGD(model.parameters(), lr=0.1, momentum=0.9), (x, y),
                             epochs=5, batch_size=20, val_data=(x[:50], y[:50]), quiet=True,
                             generator=torch.Generator().manual_seed(0))
    assert len(history.step_loss) == 5 * 10
    assert list(history["epoch"]) == [1, 2, 3, 4, 5]
    assert history["train_accuracy"][-1] > 0.9
    assert history["train_loss"][-1] < history["train_loss"][0]
    with pytest.raises(KeyError, match="val_f1"):
        history["val_f1"]


def test_full_batch_is_one_step_per_epoch():
    x, y = small_problem()
    model = training.mlp([5, 2])
    history = training.train(model, SGD(model.parameters(), lr=0.1), (x, y), epochs=3,
                             batch_size=None, quiet=True)
    assert len(history.step_loss) == 3


def test_same_generator_gives_identical_runs():
    x, y = small_problem()
    runs = []
    for _ in range(2):
        torch.manual_seed(1)
        model = training.mlp([5, 8, 2])
        runs.append(training.train(model, SGD(model.parameters(), lr=0.1), (x, y), epochs=2,
                                   quiet=True, generator=torch.Generator().manual_seed(3)).step_loss)
    assert runs[0] == runs[1]


def test_nan_loss_stops_with_a_readable_error():
    x, y = small_problem()
    torch.manual_seed(0)
    model = training.mlp([5, 64, 2])
    with pytest.raises(training.TrainingDiverged) as error:
        training.train(model, SGD(model.parameters(), lr=1e6), (x * 100, y), epochs=5,
                       batch_size=20, quiet=True)
    message = str(error.value)
    assert "step" in message and "learning rate 1000000.0" in message
    assert error.value.step >= 1 and not math.isfinite(error.value.loss)


class _Ends(training.Callback):
    def __init__(self):
        self.ended = 0

    def on_train_end(self, model):
        self.ended += 1


def test_a_diverged_run_keeps_its_history_and_ends_its_callbacks():
    x, y = small_problem()
    torch.manual_seed(0)
    model = training.mlp([5, 64, 2])
    ends = _Ends()
    with pytest.raises(training.TrainingDiverged) as error:
        training.train(model, SGD(model.parameters(), lr=1e6), (x * 100, y), epochs=5,
                       batch_size=20, quiet=True, callbacks=[ends])
    history = error.value.history
    assert len(history.step_loss) == error.value.step - 1      # every finite loss before it
    assert all(math.isfinite(loss) for loss in history.step_loss)
    assert len(history.epochs) == (error.value.step - 1) // 10  # the finished epochs
    assert ends.ended == 1


class _Interrupt(training.Callback):
    def on_step_end(self, step, loss, model, optimizer):
        if step == 7:
            raise KeyboardInterrupt


def test_any_exception_carries_the_partial_history():
    x, y = small_problem()
    model = training.mlp([5, 2])
    ends = _Ends()
    with pytest.raises(KeyboardInterrupt) as error:
        training.train(model, SGD(model.parameters(), lr=0.1), (x, y), epochs=3, batch_size=50,
                       quiet=True, callbacks=[_Interrupt(), ends])
    assert len(error.value.history.step_loss) == 7 and len(error.value.history.epochs) == 1
    assert ends.ended == 1
    history = training.train(model, SGD(model.parameters(), lr=0.1), (x, y), quiet=True,
                             callbacks=[ends])
    assert ends.ended == 2 and len(history.epochs) == 1


def test_max_steps_without_epochs_and_without_epoch_metrics():
    x, y = small_problem()
    model = training.mlp([5, 2])
    history = training.train(model, SGD(model.parameters(), lr=0.1), (x, y), epochs=None,
                             max_steps=25, batch_size=20, quiet=True, epoch_metrics=False)
    assert len(history.step_loss) == 25
    assert history.epochs == [{"epoch": 1, "step": 10}, {"epoch": 2, "step": 20},
                              {"epoch": 3, "step": 25}]
    with pytest.raises(ValueError, match="epochs=None needs max_steps"):
        training.train(model, SGD(model.parameters(), lr=0.1), (x, y), epochs=None, quiet=True)


def test_unshuffled_full_batch_is_plain_gradient_descent():
    x, y = small_problem()
    torch.manual_seed(0)
    model = training.mlp([5, 2])
    reference = training.mlp([5, 2])
    reference.load_state_dict(model.state_dict())
    training.train(model, SGD(model.parameters(), lr=0.1), (x, y), epochs=3, batch_size=None,
                   shuffle=False, quiet=True, epoch_metrics=False)
    optimizer = SGD(reference.parameters(), lr=0.1)
    for _ in range(3):
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(reference(x), y).backward()
        optimizer.step()
    for mine, theirs in zip(model.parameters(), reference.parameters()):
        assert torch.equal(mine, theirs)


def test_minibatches_cover_every_example_once():
    batches = list(training.minibatches(10, 3, torch.Generator().manual_seed(0)))
    assert [len(b) for b in batches] == [3, 3, 3, 1]
    assert sorted(torch.cat(batches).tolist()) == list(range(10))
    with pytest.raises(ValueError, match="batch_size"):
        list(training.minibatches(10, 0))
    assert [len(b) for b in training.minibatches(10, 3, drop_last=True)] == [3, 3, 3]


def test_evaluate_restores_training_mode():
    x, y = small_problem()
    model = torch.nn.Sequential(torch.nn.Linear(5, 2), torch.nn.Dropout(0.5))
    model.train()
    first = training.evaluate(model, x, y)
    assert model.training and first == training.evaluate(model, x, y)


def test_mismatched_data_and_bad_arguments():
    x, y = small_problem()
    model = training.mlp([5, 2])
    with pytest.raises(ValueError, match="200 inputs but 199 targets"):
        training.train(model, SGD(model.parameters(), lr=0.1), (x, y[:-1]), quiet=True)
    with pytest.raises(ValueError, match="epochs=0"):
        training.train(model, SGD(model.parameters(), lr=0.1), (x, y), epochs=0, quiet=True)


def test_data_sets_are_offline_standardized_and_disjoint():
    split = data.digits()
    assert split.x_train.shape[1] == 64 and split.num_classes == 10
    assert abs(split.x_train.mean().item()) < 1e-5 and abs(split.x_train.std().item() - 1) < 1e-4
    assert len(split.y_train) + len(split.y_val) == 1797
    images = data.digits(images=True)
    assert images.x_train.shape[1:] == (1, 8, 8)
    one_d = data.mnist1d(num_samples=400)
    assert one_d.x_train.shape == (320, 40) and set(one_d.y_train.tolist()) <= set(range(10))
    assert len(split.subset(50).y_train) == 50
    with pytest.raises(ValueError, match="val_fraction"):
        data.digits(val_fraction=1.5)


def test_device_is_a_torch_device():
    assert device().type == ("cuda" if torch.cuda.is_available() else "cpu")


def test_seeded_run_is_train_after_seeding_the_model_and_the_batch_order():
    x, y = small_problem()
    run = training.seeded_run(lambda: training.mlp([5, 8, 2]), SGD, (x, y), seed=3, epochs=2,
                              batch_size=20, val_data=(x[:50], y[:50]), lr=0.1, momentum=0.9)
    torch.manual_seed(3)                           # the same run, written out by hand
    model = training.mlp([5, 8, 2])
    optimizer = SGD(model.parameters(), lr=0.1, momentum=0.9)
    history = training.train(model, optimizer, (x, y), epochs=2, batch_size=20,
                             val_data=(x[:50], y[:50]), quiet=True,
                             generator=torch.Generator().manual_seed(3))
    assert run.history.step_loss == history.step_loss and run.history.epochs == history.epochs
    assert isinstance(run.optimizer, SGD) and run.optimizer.param_groups[0]["momentum"] == 0.9
    for mine, theirs in zip(run.model.parameters(), model.parameters()):
        assert torch.equal(mine, theirs)
    assert run.optimizer.param_groups[0]["params"][0] is next(run.model.parameters())


def test_seeded_runs_one_run_per_seed_same_start_for_every_optimizer():
    x, y = small_problem()
    make = lambda: training.mlp([5, 8, 2])   # noqa: E731
    runs = training.seeded_runs(make, SGD, (x, y), seeds=[0, 1, 0], max_steps=4, epochs=None,
                                batch_size=20, lr=0.1)
    assert [len(r.history.step_loss) for r in runs] == [4, 4, 4]
    assert runs[0].history.step_loss == runs[2].history.step_loss
    assert runs[0].history.step_loss != runs[1].history.step_loss
    adam = training.seeded_run(make, torch.optim.Adam, (x, y), seed=0, max_steps=1, epochs=None,
                               batch_size=20, lr=1e-3)
    assert adam.history.step_loss[0] == runs[0].history.step_loss[0]   # same weights, same batch
    with pytest.raises(ValueError, match="seeds is empty"):
        training.seeded_runs(make, SGD, (x, y), seeds=[], lr=0.1)
    with pytest.raises(ValueError, match="seed"):
        training.seeded_run(make, SGD, (x, y), seed=-1, lr=0.1)
    with pytest.raises(TypeError, match="make_model"):
        training.seeded_run(make(), SGD, (x, y), lr=0.1)


def test_a_diverged_seeded_run_keeps_its_model_optimizer_and_curve():
    x, y = small_problem()
    with pytest.raises(training.TrainingDiverged) as error:
        training.seeded_run(lambda: training.mlp([5, 64, 2]), SGD, (x * 100, y), epochs=5,
                            batch_size=20, lr=1e6)
    run = error.value.run
    assert run.history is error.value.history and len(run.history.step_loss) == error.value.step - 1
    assert isinstance(run.model, torch.nn.Sequential) and run.optimizer.param_groups[0]["lr"] == 1e6
