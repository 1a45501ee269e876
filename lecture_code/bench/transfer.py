"""``python -m lecture_code.bench transfer pretrain|table``: the transfer chapter's long runs.

* ``pretrain --out PATH [--quick]`` trains a :class:`~lecture_code.transfer.SmallCNN` on the
  textured-shapes source task and writes its weights (safetensors) and a JSON record beside
  them (how the shipped ``lecture_code/weights/vgg_shapes16.*`` were made);
* ``table --out benchmarks/transfer_table.csv`` measures the slide's 2×2 table
  (similar/different data × little/a lot of it) with every method of
  :data:`~lecture_code.transfer.METHODS`, and writes a Markdown page with its provenance.
"""
from __future__ import annotations

import argparse
import csv
import json
import time
from pathlib import Path

import torch

from ..transfer import (METHOD_LR, METHODS, SLIDE_ADVICE, SOURCE_CLASSES, STEPS, load_pretrained,
                        pretrain, save_weights, transfer_table)
from . import command_line, provenance, write_report

PROG = "python -m lecture_code.bench transfer"


def _main_pretrain(args) -> int:
    torch.set_num_threads(args.threads)
    settings = dict(per_class=20, steps=30) if args.quick else {}
    model, record = pretrain(arch=args.arch, seed=args.seed, **settings)
    out = Path(args.out)
    sha = save_weights(model, out, extra={"seed": args.seed, "command": command_line()})
    record.update({"command": command_line(), "quick": args.quick, "file": out.name,
                   "sha256": sha, "bytes": out.stat().st_size})
    out.with_suffix(".json").write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB, sha256 {sha[:12]}…), source "
          f"validation accuracy {record['source_val_accuracy']:.3f} in {record['seconds']} s")
    return 0


def _main_table(args) -> int:
    torch.set_num_threads(args.threads)
    pretrained = load_pretrained(args.weights)
    start = time.time()
    if args.quick:
        seeds, steps = (0,), {"little": 20, "lot": 20}
        rows = transfer_table(pretrained, seeds=seeds, steps=steps, amounts={"little": 50, "lot": 100})
    else:
        seeds, steps = tuple(range(args.seeds)), STEPS
        rows = transfer_table(pretrained, seeds=seeds, steps=steps)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    lines = ["# Transfer learning: the slide's 2×2 table, measured\n",
             provenance(),
             f"Run time: {time.time() - start:.0f} s. Pretrained weights: `{args.weights}` "
             f"(a VGG-like SmallCNN trained on {len(SOURCE_CLASSES)} classes of "
             f"`textured_shapes`, see `lecture_code/weights/*.json`).\n",
             "Setup: validation accuracy (fraction correct) after a fixed number of Adam steps "
             f"(batch 32; {steps['little']} steps with little data, {steps['lot']} with a lot), "
             f"mean ± std over seeds {list(seeds)}; a seed picks the training images, the new "
             "head's initialisation and the batch order. Targets: *similar* = the 10 held-out "
             "shape/texture classes (500 validation images), *different* = scikit-learn digits "
             "upsampled to 16×16 (497 validation images). Methods: *linear probe* = new head on "
             "the frozen network; *fine-tune top* = stages 1–2 frozen, stages 3–4 and head "
             "trained; *fine-tune all* = every layer trained from the pretrained start; *from "
             "scratch* = same network, random start. Learning rates: "
             + ", ".join(f"{m} {lr:g}" for m, lr in METHOD_LR.items()) + ".\n",
             "| data | amount | n_train | " + " | ".join(METHODS) + " | slide's advice |",
             "|---" * (4 + len(METHODS)) + "|"]
    for (sim, amount), advice in SLIDE_ADVICE.items():
        cell = [r for r in rows if r["similarity"] == sim and r["amount"] == amount]
        best = max(cell, key=lambda r: r["accuracy_mean"])["method"]
        values = [("**" if r["method"] == best else "") + f"{r['accuracy_mean']:.3f} ± "
                  f"{r['accuracy_std']:.3f}" + ("**" if r["method"] == best else "") for r in cell]
        lines.append(f"| {sim} | {amount} | {cell[0]['n_train']} | " + " | ".join(values)
                     + f" | {advice} |")
    write_report(out.with_suffix(".md"), lines)
    print(f"wrote {out} and {out.with_suffix('.md')} in {time.time() - start:.0f} s")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("pretrain", help="train a SmallCNN on the textured-shapes source task")
    p.add_argument("--out", required=True, help="the .safetensors file to write (a .json sidecar goes next to it)")
    p.add_argument("--arch", default="vgg", choices=("vgg", "resnet"))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quick", action="store_true", help="a tiny run (seconds), for tests")
    p.add_argument("--threads", type=int, default=1)
    t = sub.add_parser("table", help="the 2×2 similar/different × little/lot table")
    t.add_argument("--out", required=True, help="CSV to write (a .md with provenance goes next to it)")
    t.add_argument("--weights", default="vgg-shapes16", help="name, file or URL of the pretrained weights")
    t.add_argument("--seeds", type=int, default=3)
    t.add_argument("--quick", action="store_true", help="one seed, few steps (seconds)")
    t.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    return _main_pretrain(args) if args.command == "pretrain" else _main_table(args)
