"""The task type label rule, for every place a label comes in: bodies, queries, files, the lane.

Real datasets name their classes freely (Banking77 has ``reverted_card_payment?``), so a
label is any printable Unicode text of 1-64 characters that neither starts nor ends with a
space. "Printable" is Python's str.isprintable: no control characters (category Cc), no
format characters such as U+200B or the bidirectional overrides (Cf), no lone surrogates,
private-use or unassigned code points, no line or paragraph separators, and no space other
than U+0020; and no U+FFFD, the mark of bytes that were not UTF-8 (a query string's
%FF decodes to it). A label is only ever a value (a Redis key suffix, a hash field, a script
argument), never a pattern, so ':', '*', '{' and spaces in it are plain characters.
"""

import unicodedata

MAX_TASK_TYPE = 64
UNDECODED = "\ufffd"
SHOWN = 80  # characters of a refused value quoted in its error
RULE = (
    f"printable Unicode text of 1-{MAX_TASK_TYPE} characters, no control characters, "
    "not starting or ending with a space"
)


def shown(value: str) -> str:
    """The value as an error quotes it: repr (control characters escaped), cut when long."""
    if len(value) <= SHOWN:
        return repr(value)
    return f"{value[:SHOWN]!r}… ({len(value)} characters)"


def _unprintable(char: str) -> str:
    """Say what kind of character char is, for an error."""
    kind = {"Cc": "the control character", "Cs": "the lone surrogate"}
    return f"{kind.get(unicodedata.category(char), 'the unprintable character')} U+{ord(char):04X}"


def task_type_problem(value: str) -> str | None:
    """Say why value is not a task type label, quoting it; None when it is one."""
    if (
        0 < len(value) <= MAX_TASK_TYPE
        and value.isprintable()
        and value[0] != " "
        and value[-1] != " "
        and UNDECODED not in value
    ):
        return None
    if not 0 < len(value) <= MAX_TASK_TYPE:
        reason = f"it has {len(value)} characters, not 1-{MAX_TASK_TYPE}"
    elif UNDECODED in value:
        reason = "it holds U+FFFD, the replacement character of bytes that were not UTF-8"
    elif not value.isprintable():
        reason = f"it holds {_unprintable(next(c for c in value if not c.isprintable()))}"
    else:
        reason = "it starts or ends with a space"
    return f"{shown(value)} is not a task type: {reason}"
