"""A moment given as Unix seconds or as an ISO 8601 date or time (UTC unless it says)."""

from datetime import UTC, datetime

from marshmallow import fields

MAX_SECONDS = 253_402_300_799  # 9999-12-31T23:59:59Z
MOMENT_RULE = (
    "Unix seconds (1765000000) or an ISO 8601 date or time (2026-12-07, 2026-12-07T12:00:00Z); "
    "without a zone it is UTC"
)


def parse_moment(value: str) -> int:
    """Return the Unix seconds of value; ValueError when it is neither seconds nor ISO 8601."""
    text = value.strip()
    if text.isdigit():
        seconds = int(text)
    else:
        moment = datetime.fromisoformat(text.replace("z", "Z"))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        seconds = int(moment.timestamp())
    if not 0 <= seconds <= MAX_SECONDS:
        raise ValueError(value)
    return seconds


class Moment(fields.String):
    """A query parameter holding a moment; loads as Unix seconds (an int)."""

    default_error_messages = {"moment": f"is not a moment: give {MOMENT_RULE}"}  # noqa: RUF012

    def __init__(self, **kwargs: object) -> None:
        described = {"description": MOMENT_RULE, **kwargs.pop("metadata", {})}
        super().__init__(metadata=described, **kwargs)

    def _deserialize(self, value: object, attr: str | None, data: object, **kwargs: object) -> int:
        text = super()._deserialize(value, attr, data, **kwargs)
        if len(text) > 40:
            raise self.make_error("moment")
        try:
            return parse_moment(text)
        except (ValueError, OverflowError):
            raise self.make_error("moment") from None
