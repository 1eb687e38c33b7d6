"""``qianbao risk ...``: train the model on the fraud simulator, evaluate the live decision path
on a month it never saw, show the rule set. Mounted by the platform CLI
(``app.add_typer(risk.cli.app, name="risk")``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from qianbao.risk import evaluate as ev
from qianbao.risk import model as risk_model
from qianbao.risk import rules as risk_rules

app = typer.Typer(
    help="Real-time risk control (风控): model, evaluation, rules.", no_args_is_help=True
)
console = Console()

SeedOpt = Annotated[int, typer.Option("--seed", help="the simulator's seed")]
DaysOpt = Annotated[int, typer.Option("--days", help="simulated days")]
UsersOpt = Annotated[int, typer.Option("--users", help="simulated users")]
RulesOpt = Annotated[Path, typer.Option("--rules", help="rule file")]
ModelOpt = Annotated[Path, typer.Option("--model", help="model file")]


@app.command()
def train(
    seed: SeedOpt = 1,
    days: DaysOpt = 21,
    users: UsersOpt = 2000,
    kind: Annotated[str, typer.Option("--kind", help="gbdt or logistic")] = "gbdt",
    rules: RulesOpt = risk_rules.DEFAULT_PATH,
    out: ModelOpt = risk_model.DEFAULT_PATH,
) -> None:
    """Simulate ``--days`` from ``--seed``, fit the model, write it (the engine loads it)."""
    if kind not in ("gbdt", "logistic"):
        raise typer.BadParameter("--kind is gbdt or logistic")
    with console.status(f"simulating {days} days of {users} users and training {kind}"):
        model = ev.train(risk_rules.load(rules), seed, days, users=users, kind=kind)
    risk_model.save(model, out)
    console.print(f"model {model.version}: operating point p >= {model.operating_point} -> {out}")


@app.command()
def evaluate(
    seed: SeedOpt = 2,
    days: DaysOpt = 30,
    users: UsersOpt = 2000,
    json_path: Annotated[Path | None, typer.Option("--json", help="write the report here")] = None,
    plot: Annotated[Path | None, typer.Option("--plot", help="precision-recall PNG")] = None,
    rules: RulesOpt = risk_rules.DEFAULT_PATH,
    model_path: ModelOpt = risk_model.DEFAULT_PATH,
) -> None:
    """Run a generated month (a seed the model never saw) through the live decision function
    and report recall and precision per typology and the false-positive rate."""
    model = risk_model.load(model_path)
    with console.status(f"simulating {days} days and deciding every movement"):
        report = ev.evaluate(risk_rules.load(rules), model, seed, days, users=users)
    table = Table("typology", "movements", "caught", "recall", "precision")
    for name, row in report["typologies"].items():
        table.add_row(
            name,
            str(row["movements"]),
            str(row["caught"]),
            f"{row['recall']:.3f}",
            f"{row['precision']:.3f}",
        )
    console.print(table)
    console.print(
        f"false-positive rate {report['false_positive_rate']:.4%} of {report['legitimate']}"
        f" legitimate movements; {report['decisions_per_s']} decisions/s"
    )
    if json_path is not None:
        ev.write_json(report, json_path)
    if plot is not None:
        pr_plot(report, plot)


def pr_plot(report: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curve = report["pr_curve"]
    fig, ax = plt.subplots(figsize=(5, 4))
    ax.plot([c["recall"] for c in curve], [c["precision"] for c in curve], marker=".")
    ax.set_xlabel("recall (model alone)")
    ax.set_ylabel("precision")
    ax.set_title(f"{report['model_version']} on seed {report['seed']}, {report['days']} days")
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, metadata={"Software": None})
    plt.close(fig)


@app.command("rules")
def show_rules(rules: RulesOpt = risk_rules.DEFAULT_PATH) -> None:
    """The rule set a file holds (checked as the engine would)."""
    rs = risk_rules.load(rules)
    console.print(
        json.dumps(
            {
                "version": rs.version,
                "challenge_at": rs.challenge_at,
                "reject_at": rs.reject_at,
                "rules": rs.summary(),
            },
            default=sorted,
            indent=1,
        )
    )
