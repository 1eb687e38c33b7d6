"""The five dimensions of the score and where each German Credit attribute belongs.

The platform's score (like Zhima's) is shown as five dimensions. Every attribute of a card
belongs to exactly one; so does every line of the behaviour adjustment. The mapping for other
portfolios is a ``{column: dimension}`` dict (``--dimensions FILE.json`` on the CLI); columns
it does not name fall into ``behaviour``.
"""

from __future__ import annotations

IDENTITY = "identity"
ABILITY = "ability"
HISTORY = "history"
CONNECTIONS = "connections"
BEHAVIOUR = "behaviour"

DIMENSIONS: tuple[str, ...] = (IDENTITY, ABILITY, HISTORY, CONNECTIONS, BEHAVIOUR)
DIMENSION_LABELS: dict[str, str] = {
    IDENTITY: "Identity traits (身份特质)",
    ABILITY: "Ability to pay (履约能力)",
    HISTORY: "Credit history (信用历史)",
    CONNECTIONS: "Connections (人脉关系)",
    BEHAVIOUR: "Behaviour preferences (行为偏好)",
}
DEFAULT_DIMENSION = BEHAVIOUR

GERMAN_DIMENSIONS: dict[str, str] = {
    # who the applicant is and how settled they are
    "age_in_years": IDENTITY,
    "present_residence_since": IDENTITY,
    "telephone": IDENTITY,
    "personal_status_and_sex": IDENTITY,
    "foreign_worker": IDENTITY,
    # means to repay: liquid assets, property, income stability, burden
    "status_of_existing_checking_account": ABILITY,
    "savings_account_and_bonds": ABILITY,
    "property": ABILITY,
    "present_employment_since": ABILITY,
    "job": ABILITY,
    "housing": ABILITY,
    "installment_rate_in_percentage_of_disposable_income": ABILITY,
    # how earlier credit was handled
    "credit_history": HISTORY,
    "number_of_existing_credits_at_this_bank": HISTORY,
    "other_installment_plans": HISTORY,
    # people standing behind or depending on the applicant
    "other_debtors_or_guarantors": CONNECTIONS,
    "number_of_people_being_liable_to_provide_maintenance_for": CONNECTIONS,
    # what the applicant chooses to borrow, for what, for how long
    "purpose": BEHAVIOUR,
    "duration_in_month": BEHAVIOUR,
    "credit_amount": BEHAVIOUR,
    # derived (GERMAN_DERIVED)
    "instalment_per_rate_class": ABILITY,
    "duration_x_rate": ABILITY,
}

# Derived attributes, computed from the answers by the card itself (the formula is printed
# with the attribute). German Credit gives the instalment rate as a class 1–4 of the share of
# disposable income the instalment takes (higher class, higher bad rate in this data), so
# - instalment_per_rate_class = credit_amount ÷ duration_in_month ÷ instalment rate: the
#   monthly instalment per rate class, a proxy of the disposable income behind the loan;
# - duration_x_rate = duration_in_month × instalment rate: how long and how heavily the loan
#   weighs on that income.
GERMAN_RATE = "installment_rate_in_percentage_of_disposable_income"
GERMAN_DERIVED: dict[str, tuple[tuple[str, int], ...]] = {
    "instalment_per_rate_class": (
        ("credit_amount", 1),
        ("duration_in_month", -1),
        (GERMAN_RATE, -1),
    ),
    "duration_x_rate": (("duration_in_month", 1), (GERMAN_RATE, 1)),
}

# Categories rarer than 5 % of the training rows (the minimum bin size) are grouped before
# binning: e.g. purpose "repairs | domestic appliances | others | retraining".
GERMAN_CAT_CUTOFF = 0.05

# Business expectation of how the bad rate moves with a numeric attribute (optbinning's
# ``monotonic_trend``). Longer loans and higher instalment burden are riskier; risk falls
# with age; credit amount is U-shaped (very small and very large loans are both riskier),
# so it is a documented "valley". More income behind each rate class
# (instalment_per_rate_class) is safer, a longer and heavier burden (duration_x_rate)
# riskier. The rest only have to be monotone, either way.
GERMAN_TRENDS: dict[str, str] = {
    "duration_in_month": "ascending",
    "installment_rate_in_percentage_of_disposable_income": "ascending",
    "age_in_years": "descending",
    "credit_amount": "valley",
    "instalment_per_rate_class": "descending",
    "duration_x_rate": "ascending",
}

# Not used by default: sex / marital status and nationality are protected characteristics
# in fair-lending law (e.g. EU, US ECOA), and they carry almost no information here (IV < 0.01).
GERMAN_EXCLUDED: tuple[str, ...] = ("personal_status_and_sex", "foreign_worker")


def dimension_of(attribute: str, mapping: dict[str, str]) -> str:
    dimension = mapping.get(attribute, DEFAULT_DIMENSION)
    if dimension not in DIMENSIONS:
        raise ValueError(f"unknown dimension {dimension!r} for {attribute!r}")
    return dimension
