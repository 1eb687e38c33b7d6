"""The notification service's error codes (stable: clients match on them)."""

from __future__ import annotations

from enum import StrEnum

from qianbao.platform.errors import InvalidArgument, NotFound, QianbaoError


class Code(StrEnum):
    NOTICE_KIND_UNKNOWN = "NOTICE_KIND_UNKNOWN"
    NOTICE_PARAMS_INVALID = "NOTICE_PARAMS_INVALID"
    NOTICE_DEDUPE_KEY_INVALID = "NOTICE_DEDUPE_KEY_INVALID"
    NOTICE_PREFS_INVALID = "NOTICE_PREFS_INVALID"
    NOTICE_NOT_FOUND = "NOTICE_NOT_FOUND"
    CODE_PURPOSE_INVALID = "CODE_PURPOSE_INVALID"
    CODE_TOO_FREQUENT = "CODE_TOO_FREQUENT"


class KindUnknown(InvalidArgument):
    code = Code.NOTICE_KIND_UNKNOWN


class ParamsInvalid(InvalidArgument):
    code = Code.NOTICE_PARAMS_INVALID


class DedupeKeyInvalid(InvalidArgument):
    code = Code.NOTICE_DEDUPE_KEY_INVALID


class PrefsInvalid(InvalidArgument):
    code = Code.NOTICE_PREFS_INVALID


class NoticeNotFound(NotFound):
    code = Code.NOTICE_NOT_FOUND


class PurposeInvalid(InvalidArgument):
    code = Code.CODE_PURPOSE_INVALID


class CodeTooFrequent(QianbaoError):
    """Too many codes asked for one purpose within the hour (SMS pumping, brute force)."""

    code = Code.CODE_TOO_FREQUENT
    http_status = 429
