"""An uploaded file's check as pure functions: its lines from its chunks, what they add up
to, the record it leaves (processed with a summary, or error naming the bad lines), and the
zlib stream its bytes are kept as."""

import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from tuneloop.contracts import FILE_ERROR, FILE_PROCESSED
from tuneloop.schemas.chat_file import MAX_LINE_ERRORS, checked_lines

ZLIB_LEVEL = 6


def lines_of(pieces: Iterable[bytes]) -> Iterator[bytes]:
    """Yield the lines of the bytes given in pieces, split at "\\n" only (as bytes.split)."""
    rest = b""
    for piece in pieces:
        lines = (rest + piece).split(b"\n")
        rest = lines.pop()
        yield from lines
    yield rest


@dataclass
class FileCheck:
    """What a file's lines add up to: rows by task type, and the bad lines."""

    rows: int = 0
    task_distribution: dict[str, int] = field(default_factory=dict)
    unlabelled: int = 0
    kind: str = "chat"
    bad: list[tuple[int, str]] = field(default_factory=list)  # the first MAX_LINE_ERRORS
    n_bad: int = 0

    def add(self, number: int, found: dict | str) -> None:
        """Count one line: its training row, or what is wrong with it."""
        if isinstance(found, str):
            self.n_bad += 1
            if len(self.bad) < MAX_LINE_ERRORS:
                self.bad.append((number, found))
            return
        if self.rows == 0 and "rejected" in found:
            self.kind = "preference"
        self.rows += 1
        task = found["task_type"]
        if task:
            self.task_distribution[task] = self.task_distribution.get(task, 0) + 1
        else:
            self.unlabelled += 1

    def summary(self) -> dict:
        """What the file holds: rows, task types given, rows the job's model will label."""
        return {
            "rows": self.rows,
            "task_distribution": self.task_distribution,
            "unlabelled_rows": self.unlabelled,
            "lines": self.kind,
        }

    def errors(self) -> list[str]:
        """The first MAX_LINE_ERRORS bad lines, each as "line N: what is wrong"."""
        return [f"line {n}: {m}" for n, m in self.bad]

    def details(self) -> str:
        """The bad lines and how many there are, as status_details says them."""
        more = f" (and {self.n_bad - len(self.bad)} more)" if self.n_bad > len(self.bad) else ""
        return f"the file has {self.n_bad} bad line(s){more}: {'; '.join(self.errors())}"


def check(pieces: Iterable[bytes]) -> FileCheck:
    """Check every line of a file given in pieces."""
    result = FileCheck()
    for number, found in checked_lines(lines_of(pieces)):
        result.add(number, found)
    return result


def checked_record(record: dict, result: FileCheck) -> dict:
    """The record of a checked file: processed with its summary, or error naming its bad lines."""
    if result.n_bad:
        extras = {"bad_lines": result.n_bad, "errors": result.errors(), "stored_bytes": 0}
        return {
            **record,
            "status": FILE_ERROR,
            "status_details": result.details(),
            "tuneloop": extras,
        }
    return {
        **record,
        "status": FILE_PROCESSED,
        "status_details": None,
        "tuneloop": result.summary(),
    }


def compressed(pieces: Iterable[bytes], size: int) -> Iterator[bytes]:
    """Yield the zlib stream of the bytes given in pieces, in pieces of at most size bytes."""
    packer = zlib.compressobj(ZLIB_LEVEL)
    out = bytearray()
    for piece in pieces:
        out += packer.compress(piece)
        while len(out) >= size:
            yield bytes(out[:size])
            del out[:size]
    out += packer.flush()
    while out:
        yield bytes(out[:size])
        del out[:size]
