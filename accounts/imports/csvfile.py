"""Reading CSV files for any importer (accounts here, signals in scoring).

``csv_file_open`` checks a whole file before anything is written — readable, UTF-8 or
UTF-16 with its byte-order mark, not binary, a header row — so a file-level problem is
one clear error and never a half-done import; ``CsvFile.rows`` then streams the records
with the line each starts on.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

_DELIMITERS = (",", ";", "\t")


class CsvFileError(Exception):
    """The file as a whole cannot be imported; the message says why, in one line."""


@dataclass(frozen=True)
class CsvFile:
    """A CSV file that has been read through once and found importable.

    ``header`` is the first non-blank record; ``records`` counts the non-blank
    records after it (for a progress bar).
    """

    path: Path
    delimiter: str
    header: list[str]
    header_line: int
    records: int
    encoding: str = "utf-8"

    def rows(self) -> Iterator[tuple[int, list[str]]]:
        """Stream (line number, cells) for each non-blank record after the header.

        The line number is where the record starts in the file (the header is on line
        ``header_line``, usually 1), which is what a person sees in an editor even
        when a quoted cell spans several lines.
        """
        with _open_binary(self.path) as handle:
            lines = _lines(handle, path=self.path, encoding=self.encoding)
            for line, cells in _records(lines, path=self.path, delimiter=self.delimiter):
                if line > self.header_line:
                    yield line, cells


def csv_file_open(*, path: str | Path) -> CsvFile:
    """Read the whole file once and return it as a ``CsvFile``, or raise ``CsvFileError``.

    Checks, in order: the path is a readable file; it is not empty; its encoding is
    UTF-8 (a byte-order mark is allowed) or UTF-16 with its byte-order mark, as
    spreadsheets save "Unicode text"; no line holds a NUL (a binary file); every line
    decodes; the CSV structure parses. The delimiter is the one of ``,`` ``;`` and tab
    that is most frequent in the header line.
    """
    path = Path(path)
    with _open_binary(path) as handle:
        head = handle.read(8192)
        if not head:
            raise CsvFileError(f"{path} is empty: expected a header row.")
        encoding = _encoding(head, path=path)
        delimiter = _sniff_delimiter(head.decode(encoding, "ignore").split("\n", 1)[0])
        handle.seek(0)
        header: list[str] | None = None
        header_line = 0
        records = 0
        lines = _lines(handle, path=path, encoding=encoding)
        for line, cells in _records(lines, path=path, delimiter=delimiter):
            if header is None:
                header, header_line = cells, line
            else:
                records += 1
    if header is None:
        raise CsvFileError(f"{path} is empty: expected a header row.")
    return CsvFile(
        path=path,
        delimiter=delimiter,
        header=header,
        header_line=header_line,
        records=records,
        encoding=encoding,
    )


_UTF32_BOMS = (b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
SAVE_AS = "save the file as CSV UTF-8"


def _encoding(head: bytes, *, path: Path) -> str:
    """The file's encoding from its first bytes: ``utf-8`` or ``utf-16`` (by its
    byte-order mark); anything else is a ``CsvFileError`` that names what it is."""
    if head.startswith(_UTF32_BOMS):
        raise CsvFileError(f"{path} is UTF-32 text, which is not read here; {SAVE_AS}.")
    if head.startswith(_UTF16_BOMS):
        return "utf-16"
    if b"\x00" in head:
        sample = head[:1024]
        even, odd = sample[0::2].count(0), sample[1::2].count(0)
        if max(even, odd) > 0.4 * (len(sample) // 2) and min(even, odd) == 0:
            # Latin text in UTF-16 has every other byte NUL; without its byte-order mark
            # its byte order can only be guessed.
            raise CsvFileError(
                f"{path} looks like UTF-16 text without a byte-order mark; {SAVE_AS} "
                "(or as UTF-16 with its byte-order mark)."
            )
        raise CsvFileError(f"{path} looks like a binary file (it holds NUL bytes), not a CSV file.")
    return "utf-8"


def _open_binary(path: Path) -> BinaryIO:
    if path.is_dir():
        raise CsvFileError(f"{path} is a directory, not a CSV file.")
    try:
        return path.open("rb")
    except FileNotFoundError:
        raise CsvFileError(f"{path}: no such file.") from None
    except PermissionError:
        raise CsvFileError(f"{path}: permission denied.") from None
    except OSError as error:
        raise CsvFileError(f"{path} cannot be read: {error.strerror or error}.") from None


def _sniff_delimiter(first_line: str) -> str:
    counts = {delimiter: first_line.count(delimiter) for delimiter in _DELIMITERS}
    return max(_DELIMITERS, key=lambda delimiter: counts[delimiter])


def _lines(handle: BinaryIO, *, path: Path, encoding: str = "utf-8") -> Iterator[str]:
    """Decode the file line by line so that a bad byte is reported with its line."""
    if encoding == "utf-16":
        yield from _utf16_lines(handle, path=path)
        return
    for number, raw in enumerate(handle, start=1):
        if b"\x00" in raw:
            raise CsvFileError(
                f"{path} looks like a binary file (NUL byte on line {number}), not a CSV file."
            )
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            raise CsvFileError(
                f"{path}, line {number}: not UTF-8 text (byte 0x{raw[error.start]:02x}); {SAVE_AS}."
            ) from None
        yield text.removeprefix("\ufeff") if number == 1 else text


def _utf16_lines(handle: BinaryIO, *, path: Path) -> Iterator[str]:
    # UTF-16 cannot be split at byte 0x0a: its lines come from a decoding reader (which
    # also reads the byte-order mark), still one line at a time.
    text = io.TextIOWrapper(handle, encoding="utf-16", newline="")
    number = 0
    try:
        for line in text:
            number += 1
            if "\x00" in line:
                raise CsvFileError(
                    f"{path} looks like a binary file (NUL on line {number}), not a CSV file."
                )
            yield line
    except UnicodeDecodeError:
        raise CsvFileError(
            f"{path}, line {number + 1}: not valid UTF-16 text; {SAVE_AS}."
        ) from None
    finally:
        text.detach()


def _records(
    lines: Iterator[str], *, path: Path, delimiter: str
) -> Iterator[tuple[int, list[str]]]:
    reader = csv.reader(lines, delimiter=delimiter, strict=True)
    end = 0
    while True:
        start = end + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            raise CsvFileError(
                f"{path}, line {reader.line_num}: not valid CSV ({error})."
            ) from None
        end = reader.line_num
        if any(cell.strip() for cell in cells):
            yield start, cells
