"""An uploaded file's check, the pure side: lines across chunks, the summary, status_details,
the record it leaves and the zlib stream its bytes are kept as."""

import json
import zlib

import pytest

from tuneloop.contracts import FILE_ERROR, FILE_PROCESSED, FILE_UPLOADED
from tuneloop.files.check import check, checked_record, compressed, lines_of
from tuneloop.schemas.chat_file import MAX_LINE_ERRORS, parse


def chat(question: str, task: str | None = None) -> bytes:
    """One chat-format line (with a task type when given), newline included."""
    line: dict = {
        "messages": [
            {"role": "user", "content": question},
            {"role": "assistant", "content": f"About {question}."},
        ]
    }
    if task:
        line["metadata"] = {"task_type": task}
    return json.dumps(line, ensure_ascii=False).encode() + b"\n"


def preference(question: str) -> bytes:
    """One preference line, newline included."""
    line = {
        "input": {"messages": [{"role": "user", "content": question}]},
        "preferred_output": [{"role": "assistant", "content": "Good."}],
        "non_preferred_output": [{"role": "assistant", "content": "Bad."}],
    }
    return json.dumps(line).encode() + b"\n"


def split(content: bytes, size: int) -> list[bytes]:
    """The content in pieces of size bytes."""
    return [content[i : i + size] for i in range(0, len(content), size)] or [b""]


FILE = (
    chat("Where is my card?", "card")
    + chat("Rate for euros \u2028 today?", "rates")
    + b"\n  \n"
    + chat("Where is my other card?", "card")
    + chat("No task type here")
)


@pytest.mark.parametrize("size", [1, 2, 3, 7, 64, len(FILE) - 1, len(FILE), 10 * len(FILE)])
def test_lines_of_a_file_in_pieces_of_any_size_are_the_lines_of_the_whole_file(size: int) -> None:
    assert list(lines_of(split(FILE, size))) == FILE.split(b"\n")
    assert list(lines_of(split(FILE.rstrip(b"\n"), size))) == FILE.rstrip(b"\n").split(b"\n")


@pytest.mark.parametrize("size", [1, 5, 100, 4096])
def test_the_check_in_pieces_counts_rows_and_task_types_as_parsing_the_whole_file(
    size: int,
) -> None:
    rows, bad, n_bad = parse(FILE)
    result = check(split(FILE, size))
    assert (result.bad, result.n_bad) == (bad, n_bad) == ([], 0)
    assert result.rows == len(rows) == 4
    assert result.summary() == {
        "rows": 4,
        "task_distribution": {"card": 2, "rates": 1},
        "unlabelled_rows": 1,
        "lines": "chat",
    }


def test_a_file_of_preference_lines_is_summarised_as_preference_lines() -> None:
    result = check([preference("Hi?") + preference("Ho?")])
    assert result.summary() == {
        "rows": 2,
        "task_distribution": {},
        "unlabelled_rows": 2,
        "lines": "preference",
    }


def test_a_bad_line_cut_by_a_chunk_boundary_is_named_by_its_line_number() -> None:
    content = chat("One?", "t") + b'{"messages": [oops]}\n' + chat("Three?", "t")
    cut = len(chat("One?", "t")) + 5  # inside the bad line
    result = check([content[:cut], content[cut:]])
    assert result.n_bad == 1 and result.bad[0][0] == 2, result.bad
    assert result.bad == parse(content)[1]


def test_status_details_name_the_first_bad_lines_and_count_the_rest() -> None:
    content = b"".join([chat("Fine?", "t"), *([b"{bad\n"] * (MAX_LINE_ERRORS + 5))])
    result = check([content])
    details = result.details()
    assert details.startswith(f"the file has {MAX_LINE_ERRORS + 5} bad line(s) (and 5 more): ")
    named = [f"line {n}: is not JSON" for n in range(2, MAX_LINE_ERRORS + 2)]
    assert all(name in details for name in named), details
    assert f"line {MAX_LINE_ERRORS + 2}:" not in details and "line 1:" not in details
    assert len(result.errors()) == MAX_LINE_ERRORS


def test_an_empty_file_fails_its_check_saying_it_holds_no_lines() -> None:
    for pieces in ([], [b""], [b"\n", b"  \n"]):
        result = check(pieces)
        assert result.bad == [(1, "the file holds no lines")], pieces


UPLOADED = {"id": "file-x", "status": FILE_UPLOADED, "status_details": None, "bytes": 9}


def test_a_good_file_is_processed_with_its_summary_and_no_status_details() -> None:
    record = checked_record({**UPLOADED, "tuneloop": {"stored_bytes": 9}}, check([FILE]))
    assert (record["status"], record["status_details"]) == (FILE_PROCESSED, None)
    assert record["tuneloop"]["rows"] == 4 and record["bytes"] == 9


def test_a_bad_file_is_error_naming_its_lines_and_keeping_no_bytes() -> None:
    record = checked_record(UPLOADED, check([chat("Fine?", "t") + b"[1]\n"]))
    assert record["status"] == FILE_ERROR
    assert record["status_details"] == "the file has 1 bad line(s): line 2: is not a JSON object"
    assert record["tuneloop"] == {
        "bad_lines": 1,
        "errors": ["line 2: is not a JSON object"],
        "stored_bytes": 0,
    }


@pytest.mark.parametrize("size", [1, 100, 1 << 20])
def test_the_zlib_stream_comes_in_pieces_of_at_most_size_and_inflates_to_the_file(
    size: int,
) -> None:
    content = FILE * 500
    pieces = list(compressed(split(content, 4096), size))
    assert all(0 < len(p) <= size for p in pieces)
    assert all(len(p) == size for p in pieces[:-1])  # only the last one is short
    assert zlib.decompress(b"".join(pieces)) == content
    assert zlib.decompress(b"".join(compressed([], size))) == b""
