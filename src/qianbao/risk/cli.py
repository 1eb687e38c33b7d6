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

from qianbao.bootstrap import open_platform
from qianbao.platform.settings import Settings, load_settings
from qianbao.risk import evaluate as ev
from qianbao.risk import labels
from qianbao.risk import model as risk_model
from qianbao.risk import rules as risk_rules
from qianbao.risk import service as risk_service

app = typer.Typer(
    help="Real-time risk control (风控): model, evaluation, rules.", no_args_is_help=True
)
console = Console()

SeedOpt = Annotated[int, typer.Option("--seed", help="the simulator's seed")]
DaysOpt = Annotated[int, typer.Option("--days", help="simulated days")]
UsersOpt = Annotated[int, typer.Option("--users", help="simulated users")]
UnitsOpt = Annotated[
    int, typer.Option("--units", min=1, help="spread the parties over this many units")
]
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
    with_labels: Annotated[
        bool, typer.Option("--with-labels", help="add the closed cases' labels (the platform's)")
    ] = False,
    label_weight: Annotated[
        float, typer.Option("--label-weight", help="one labelled example = this many simulated")
    ] = ev.LABEL_WEIGHT,
    report_path: Annotated[
        Path | None, typer.Option("--report", help="training report (default: beside the model)")
    ] = None,
    units: Annotated[
        list[int] | None,
        typer.Option("--units", min=1, help="a layout to learn from (repeat; default 1 and 4)"),
    ] = None,
) -> None:
    """Simulate ``--days`` from ``--seed``, fit the model, write it (the engine loads it). With
    ``--with-labels`` the operators' verdicts on closed cases are training examples too, and the
    report says how many and what they changed."""
    if kind not in ("gbdt", "logistic"):
        raise typer.BadParameter("--kind is gbdt or logistic")
    if not label_weight > 0:
        raise typer.BadParameter("--label-weight is a positive number")
    rs = risk_rules.load(rules)
    layouts = tuple(units or ev.TRAIN_UNITS)
    if with_labels:
        dataset = _label_dataset()
        with console.status(f"simulating {days} days, training {kind} with and without labels"):
            model, report = ev.train_with_labels(
                rs,
                seed,
                days,
                dataset,
                users=users,
                kind=kind,
                label_weight=label_weight,
                units=layouts,
            )
        report_path = report_path or out.with_name(f"{out.stem}.training.json")
        ev.write_json(report, report_path)
        _print_label_effect(report)
        console.print(f"training report -> {report_path}")
    else:
        with console.status(f"simulating {days} days of {users} users and training {kind}"):
            model = ev.train(rs, seed, days, users=users, kind=kind, units=layouts)
    risk_model.save(model, out)
    console.print(f"model {model.version}: operating point p >= {model.operating_point} -> {out}")


def _label_dataset() -> labels.Dataset:
    p = open_platform(load_settings(), start=False)
    try:
        return risk_service.label_dataset(p)
    finally:
        p.close()


def _print_label_effect(report: dict[str, Any]) -> None:
    counts, skipped = report["labelled"], report["skipped"]
    console.print(
        f"{counts['examples']} labelled examples ({counts[labels.FRAUD]} confirmed fraud,"
        f" {counts[labels.LEGIT]} false positives) at weight {report['label_weight']};"
        f" skipped {json.dumps(skipped, sort_keys=True)}"
    )
    table = Table("label", "examples", "mean p before", "after", "flagged before", "after")
    for name, row in report["effect"].items():
        table.add_row(
            name,
            str(row["examples"]),
            str(row["mean_p_before"]),
            str(row["mean_p_after"]),
            str(row["flagged_before"]),
            str(row["flagged_after"]),
        )
    console.print(table)


@app.command()
def evaluate(
    seed: SeedOpt = 2,
    days: DaysOpt = 30,
    users: UsersOpt = 2000,
    json_path: Annotated[Path | None, typer.Option("--json", help="write the report here")] = None,
    plot: Annotated[Path | None, typer.Option("--plot", help="precision-recall PNG")] = None,
    units: UnitsOpt = Settings.unit_count,
    rules: RulesOpt = risk_rules.DEFAULT_PATH,
    model_path: ModelOpt = risk_model.DEFAULT_PATH,
) -> None:
    """Run a generated month (a seed the model never saw) through the live decision function
    and report recall and precision per typology and the false-positive rate. The parties are
    spread over ``--units`` units (default: the platform's default layout), each movement
    decided in its payer's unit from what that unit holds and what the other units sent it
    (ADR 0621); ``--units 1`` puts every party in one unit."""
    model = risk_model.load(model_path)
    with console.status(f"simulating {days} days and deciding every movement"):
        report = ev.evaluate(risk_rules.load(rules), model, seed, days, users=users, units=units)
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
