"""The score's reasons in plain words, Chinese and English, for the user's own page.

A reason code is ``CARD:<ATTRIBUTE>`` (an answer of the application, scored by the card) or
``BEHAVIOUR:<RULE>`` (how the user uses Qianbao, ``scoring.behaviour``). The user sees which
factor holds the score back, never the points or the answer that would score better
(``scoring.guard``). A code without words here is still shown, by its factor's name.
"""

from __future__ import annotations

from typing import Any

from qianbao.scoring.dimensions import DIMENSION_LABELS, DIMENSIONS
from qianbao.scoring.guard import user_reasons

# factor -> (Chinese, English): what the factor is, as a person would say it
FACTOR_WORDS: dict[str, tuple[str, str]] = {
    # the application (German Credit attributes)
    "AGE_IN_YEARS": ("年龄", "your age"),
    "PRESENT_RESIDENCE_SINCE": ("现住址居住时间", "how long you have lived at your address"),
    "TELEPHONE": ("登记的电话", "a registered telephone"),
    "PERSONAL_STATUS_AND_SEX": ("婚姻状况", "personal status"),
    "FOREIGN_WORKER": ("工作身份", "worker status"),
    "STATUS_OF_EXISTING_CHECKING_ACCOUNT": ("活期账户状况", "your current account"),
    "SAVINGS_ACCOUNT_AND_BONDS": ("储蓄与债券", "your savings and bonds"),
    "PROPERTY": ("名下资产", "the property you own"),
    "PRESENT_EMPLOYMENT_SINCE": ("现职工作年限", "how long you have been in your job"),
    "JOB": ("职业", "your occupation"),
    "HOUSING": ("住房情况", "your housing"),
    "INSTALLMENT_RATE_IN_PERCENTAGE_OF_DISPOSABLE_INCOME": (
        "分期还款占可支配收入的比例",
        "the share of your income that instalments take",
    ),
    "CREDIT_HISTORY": ("过往借贷记录", "how earlier credit was repaid"),
    "NUMBER_OF_EXISTING_CREDITS_AT_THIS_BANK": ("现有借贷笔数", "how many loans you have now"),
    "OTHER_INSTALLMENT_PLANS": ("其他分期计划", "other instalment plans"),
    "OTHER_DEBTORS_OR_GUARANTORS": ("共同借款人或担保人", "co-borrowers or guarantors"),
    "NUMBER_OF_PEOPLE_BEING_LIABLE_TO_PROVIDE_MAINTENANCE_FOR": (
        "需要抚养的人数",
        "how many people you support",
    ),
    "PURPOSE": ("借款用途", "what the credit is for"),
    "DURATION_IN_MONTH": ("借款期限", "how long the credit runs"),
    "CREDIT_AMOUNT": ("借款金额", "how much credit you asked for"),
    "INSTALMENT_PER_RATE_CLASS": ("月供与收入的关系", "your instalments against your income"),
    "DURATION_X_RATE": ("还款期限与负担", "how long and how heavily repayments weigh"),
    # how the user uses Qianbao (scoring.behaviour)
    "ACCOUNT_AGE": ("账户使用时间", "how long you have had your account"),
    "PAYMENT_FREQUENCY": ("近90天付款次数", "how often you paid in the last 90 days"),
    "ACTIVE_MONTHS": ("近6个月活跃月数", "how many of the last 6 months you were active"),
    "HUABEI_ON_TIME": ("花呗按时还款记录", "Huabei bills paid on time"),
    "HUABEI_OVERDUE_BILLS": ("花呗逾期账单", "Huabei bills paid late"),
    "HUABEI_MAX_OVERDUE_DAYS": ("花呗最长逾期天数", "your longest Huabei overdue"),
    "HUABEI_CURRENTLY_OVERDUE": ("花呗当前逾期", "a Huabei amount overdue now"),
}
SOURCE_WORDS = {"CARD": ("您填写的资料", "your application"), "BEHAVIOUR": ("使用习惯", "your use")}


def factor_words(code: str) -> tuple[str, str]:
    """(Chinese, English) for a reason code, e.g. ``BEHAVIOUR:HUABEI_OVERDUE_BILLS``."""
    kind, _, name = code.partition(":")
    zh, en = FACTOR_WORDS.get(name, (name.lower().replace("_", " "),) * 2)
    source_zh, source_en = SOURCE_WORDS.get(kind, ("", kind.lower()))
    return (
        f"{zh}（{source_zh}）是拉低分数的主要因素之一",
        f"{en} ({source_en}) is among the main factors holding the score back",
    )


def plain_reasons(reasons: list[dict[str, Any]]) -> list[dict[str, str]]:
    """The top reasons as the user sees them: code, dimension and the words in both languages."""
    out = []
    for reason in user_reasons(reasons):
        zh, en = factor_words(reason["code"])
        label = DIMENSION_LABELS.get(reason["dimension"], reason["dimension"])
        out.append({**reason, "dimension_label": label, "zh": zh, "en": en})
    return out


def dimension_rows(dimensions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The five dimensions in their fixed order, each with its label and points."""
    points = {d["dimension"]: int(d["points"]) for d in dimensions}
    return [
        {"dimension": d, "label": DIMENSION_LABELS[d], "points": points.get(d, 0)}
        for d in DIMENSIONS
    ]
