"""A packed bit per collected row: 1 when the row passed the filter (1 bit a row, no copies)."""

from collections.abc import Iterable, Iterator


class MaskWriter:
    """Append keep/drop flags; getvalue() returns them packed, first row in the high bit."""

    def __init__(self) -> None:
        self._bytes = bytearray()
        self._n = 0

    def extend(self, flags: Iterable[bool]) -> None:
        """Append flags in row order."""
        for flag in flags:
            if self._n % 8 == 0:
                self._bytes.append(0)
            if flag:
                self._bytes[-1] |= 0x80 >> (self._n % 8)
            self._n += 1

    def __len__(self) -> int:
        return self._n

    def getvalue(self) -> bytes:
        """Return the packed flags."""
        return bytes(self._bytes)


def select(mask: bytes, batches: Iterable[list[dict]]) -> Iterator[list[dict]]:
    """Yield, batch by batch, the rows whose bit is set in mask (rows in the order written)."""
    position = 0
    for batch in batches:
        kept = []
        for row in batch:
            byte = position >> 3
            if byte < len(mask) and mask[byte] & (0x80 >> (position & 7)):
                kept.append(row)
            position += 1
        yield kept
