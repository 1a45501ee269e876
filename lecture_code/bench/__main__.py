"""``python -m lecture_code.bench <command> [options]``; ``--help`` on each command."""
from __future__ import annotations

import importlib
import sys

COMMANDS = {
    "optimizers": "step time and bandwidth of every optimizer against torch.optim",
    "profile": "where one optimizer step spends its time (cProfile, kernel loops)",
    "widgets": "time to recompute a widget's trajectory",
    "baselines": "the MNIST-1D paper's four baselines with its setup, beside its numbers",
    "compare": "every Adam-family optimizer with its learning rate tuned (the AdaNorm table, small)",
    "regularization": "every regularizer tuned on a network that overfits: gap and test accuracy",
    "transfer": "pretrain the transfer chapter's SmallCNN; measure the 2×2 transfer table",
    "grading": "submissions per minute of the autograder at 1 and 2 parallel jobs",
}


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in COMMANDS:
        print("usage: python -m lecture_code.bench <command> [options]\n\ncommands:")
        for name, what in COMMANDS.items():
            print(f"  {name:12s} {what}")
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    module = importlib.import_module(f"lecture_code.bench.{argv[0]}")
    return module.main(argv[1:]) or 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
