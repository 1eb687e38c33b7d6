"""What operators' labels change in the risk model: trained on the simulator alone (the reference,
same run) and with labelled examples at several weights, each evaluated on a period from a seed
neither saw, through the live decision function.

    python bench/risk_labels.py [--days 14] [--label-days 7] [--eval-days 14] [--users 2000]

The labels stand for what operators would close cases with: from a period of its own (seed 4),
the grooming transfers of authorised push-payment scams (the model's blind spot: the victims
report them, the cases are closed CONFIRMED_FRAUD) and the legitimate movements the reference
model flags (closed FALSE_POSITIVE). Their features are what the decision would have stored
(the replay runs ``decide``, as the engine does). Prints a table and writes
bench/results/risk_labels.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from qianbao.risk import evaluate as ev  # noqa: E402
from qianbao.risk import labels, simulate  # noqa: E402
from qianbao.risk import rules as risk_rules  # noqa: E402
from qianbao.risk.model import NO_MODEL, Model  # noqa: E402

TRAIN_SEED, LABEL_SEED, EVAL_SEED = 1, 4, 2


def operator_labels(reference: Model, rows: list[ev.Scored], cap: int) -> list[labels.Example]:
    grooming = [r for r in rows if r.label == simulate.GROOMING][:cap]
    point = reference.operating_point
    false_pos = [
        r for r in rows if not r.label and reference.probability(list(r.features)) >= point
    ]
    return [labels.Example(f"g{i}", f"g{i}", r.features, 1) for i, r in enumerate(grooming)] + [
        labels.Example(f"f{i}", f"f{i}", r.features, 0) for i, r in enumerate(false_pos[:cap])
    ]


def summary(name: str, model: Model, report: dict[str, Any], fit_s: float) -> dict[str, Any]:
    others = [v["recall"] for k, v in report["typologies"].items() if k != simulate.GROOMING]
    return {
        "model": name,
        "version": model.version,
        "grooming_recall": report["typologies"][simulate.GROOMING]["recall"],
        "mean_recall_other_typologies": round(sum(others) / len(others), 4),
        "false_positive_rate": report["false_positive_rate"],
        "fit_s": round(fit_s, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--label-days", type=int, default=7)
    parser.add_argument("--eval-days", type=int, default=14)
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--cap", type=int, default=200, help="labels of each kind at most")
    parser.add_argument("--weights", default="1,3,5,10")
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/risk_labels.json")
    args = parser.parse_args()
    rs = risk_rules.load(risk_rules.DEFAULT_PATH)
    rows = ev.simulated(rs, TRAIN_SEED, args.days, users=args.users)
    started = time.perf_counter()
    reference = ev.fit(rows, TRAIN_SEED, args.days)
    fits = [("reference (simulator only)", reference, time.perf_counter() - started)]
    world, events = simulate.generate(LABEL_SEED, args.label_days, users=args.users)
    seen = ev.replay(rs, NO_MODEL, world, events, commit_all=True)  # grooming included
    labelled = operator_labels(reference, seen, args.cap)
    for weight in (float(w) for w in args.weights.split(",")):
        started = time.perf_counter()
        model = ev.fit(rows, TRAIN_SEED, args.days, labelled=labelled, label_weight=weight)
        fits.append((f"with labels, weight {weight:g}", model, time.perf_counter() - started))
    results = []
    for name, model, fit_s in fits:
        report = ev.evaluate(rs, model, EVAL_SEED, args.eval_days, users=args.users)
        results.append(summary(name, model, report, fit_s))
    table = Table("model", "grooming recall", "other typologies recall", "false-positive rate")
    for r in results:
        table.add_row(
            r["model"],
            f"{r['grooming_recall']:.3f}",
            f"{r['mean_recall_other_typologies']:.3f}",
            f"{r['false_positive_rate']:.4%}",
        )
    fraud = sum(e.y for e in labelled)
    Console(width=120).print(
        f"{len(rows)} simulated rows; {fraud} grooming transfers labelled CONFIRMED_FRAUD and"
        f" {len(labelled) - fraud} flagged legitimate movements labelled FALSE_POSITIVE"
    )
    Console(width=120).print(table)
    out = {
        "args": {k: str(v) for k, v in vars(args).items()},
        "simulated_rows": len(rows),
        "labelled": {"confirmed_fraud": fraud, "false_positive": len(labelled) - fraud},
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
