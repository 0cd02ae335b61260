"""Opening a file to import: decompressing it, sampling it, and reading its JSON safely.

A `Source` is one document: a plain file, the inside of a `.gz`, or one member of a `.zip`
(compression is recognised by its first bytes, never the name). Detection looks only at
its `Sample`: the shape of the first mebibyte (an array, an object, JSON lines, or other
text) and the values that fit in it, so sniffing a 200 MB export reads 1 MiB. Readers then
take the whole document (`document()`), stream a top-level array (`items()`, with ijson, in
bounded memory) or stream JSON lines (`lines()`).

Every error names the file and the place: the line and column, a record's index, or a JSON
pointer. JSON nested deeper than `MAX_NESTING` levels is refused with where it happens.
"""

from __future__ import annotations

import gzip
import io
import stat
import json
import zipfile
from pathlib import Path, PurePosixPath
from typing import IO, Any, Callable, Iterator

import ijson

from engine.errors import ImportFormatError
from sessions.formats.jsonio import MAX_NESTING, check_nesting, load_json
from sessions.formats.sampling import FIRST_LINE_BYTES, HEAD_BYTES, Sample, sample_of

PROGRESS_STEP = 1 << 20
GZIP_MAGIC = b"\x1f\x8b"
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
ZIP_PREFERRED = "conversations.json"  # a ChatGPT export's zip holds this beside chat.html and images

Progress = Callable[[int, int], None]  # bytes read so far, bytes in all (of the file on disk)


class Source:
    """One document to import. `name` is what a person calls it (`export.zip:conversations.json`)."""

    def __init__(self, path: Path, name: str, opener: Callable[[Progress | None], IO[bytes]], size: int,
                 compression: str | None = None, progress: Progress | None = None) -> None:
        self.path, self.name, self._opener, self.size = path, name, opener, size
        self.compression = compression
        self.progress = progress
        self._sample: Sample | None = None
        self._document: Any = None
        self._has_document = False

    def __repr__(self) -> str:
        return f"<Source {self.name}>"

    @property
    def stem(self) -> str:
        """The document's name without folders, compression or extension: a title of last resort."""
        name = PurePosixPath(self.name.rsplit(":", 1)[-1]).name
        for suffix in (".gz", ".gzip"):
            if name.lower().endswith(suffix):
                name = name[: -len(suffix)]
        return PurePosixPath(name).stem or name or "Imported"

    def error(self, where: str | None, reason: str) -> ImportFormatError:
        return ImportFormatError(f"{self.name}: {where}: {reason}" if where else f"{self.name}: {reason}")

    # ---- raw bytes ------------------------------------------------------------------------

    def open(self) -> IO[bytes]:
        """The decompressed bytes, from the start; reading them reports progress."""
        return self._opener(self.progress)

    def head_bytes(self) -> bytes:
        """The first HEAD_BYTES and one more, for detection (progress counts only the real read)."""
        with self._opener(None) as stream:
            return _read_or_refuse(self, stream, HEAD_BYTES + 1)

    # ---- detection ------------------------------------------------------------------------

    @property
    def sample(self) -> Sample:
        if self._sample is None:
            head = self.head_bytes()
            first_line = None
            if len(head) > HEAD_BYTES and head.lstrip()[:1] == b"{" and b"\n" not in head.strip():
                first_line = self._first_line()  # JSON lines whose first record is over the head
            self._sample = sample_of(self, head, first_line)
        return self._sample

    def _first_line(self) -> bytes:
        """The first line and the start of the next, read up to FIRST_LINE_BYTES."""
        with self._opener(None) as stream:
            line = stream.readline(FIRST_LINE_BYTES)
            return line + stream.read(4096)

    # ---- whole documents -----------------------------------------------------------------

    def text(self) -> str:
        """The whole document as text (UTF-8, a byte-order mark dropped)."""
        with self.open() as stream:
            data = _read_or_refuse(self, stream, -1)
        return _decode(self, data)

    def document(self) -> Any:
        """The whole document parsed as JSON (a JSON string holding JSON is parsed again)."""
        if not self._has_document:
            value = load_json(self, self.text())
            if isinstance(value, str) and value.strip()[:1] in ("{", "["):
                value = load_json(self, value, "(the JSON text inside the top-level string)")
            self._document, self._has_document = value, True
        return self._document

    # ---- streams --------------------------------------------------------------------------

    def items(self) -> Iterator[tuple[int, Any]]:
        """The elements of a top-level JSON array, one at a time, as (index, value)."""
        if self.sample.shape != "array":
            raise self.error(None, f"expected a JSON array of records, found {_shape_words(self.sample.shape)}")
        index = -1
        with self.open() as stream:
            try:
                for index, value in enumerate(ijson.items(stream, "item", use_float=True)):
                    check_nesting(self, value, f"record [{index}]")
                    yield index, value
            except ijson.JSONError as exc:
                raise self.error(f"after record [{index}]" if index >= 0 else None,
                                 f"not valid JSON ({_ijson_reason(exc)})") from None
            except UnicodeDecodeError as exc:
                raise self.error(f"after record [{index}]", f"not UTF-8 text ({exc.reason}); save it as UTF-8") from None

    def lines(self) -> Iterator[tuple[int, Any]]:
        """JSON lines, one value at a time, as (line number, value); blank lines are skipped.
        A line that is not JSON is yielded as an `ImportFormatError` for the reader to report."""
        with self.open() as stream:
            reader = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="strict", newline="")
            number = 0
            try:
                for number, line in enumerate(reader, start=1):
                    if not line.strip():
                        continue
                    try:
                        value = json.loads(line)
                    except json.JSONDecodeError as exc:
                        yield number, self.error(f"line {number}", f"not valid JSON (column {exc.colno}: {exc.msg})")
                        continue
                    except RecursionError:
                        yield number, self.error(f"line {number}", f"nested deeper than {MAX_NESTING} levels")
                        continue
                    try:
                        check_nesting(self, value, f"line {number}")
                    except ImportFormatError as exc:
                        yield number, exc
                        continue
                    yield number, value
            except UnicodeDecodeError as exc:
                raise self.error(f"line {number + 1}", f"not UTF-8 text ({exc.reason}); save it as UTF-8") from None


# ---- opening files ---------------------------------------------------------------------------


def open_sources(path: str | Path, progress: Progress | None = None) -> list[Source]:
    """The documents in a file: itself, the inside of a gzip, or the members of a zip worth reading."""
    path = Path(path).expanduser()
    try:
        status = path.stat()
        size = status.st_size
        if path.is_dir():
            raise IsADirectoryError
        if not stat.S_ISREG(status.st_mode):
            raise ImportFormatError(f"{path}: not a regular file (a pipe or a device); save it to a file first")
        with path.open("rb") as handle:
            magic = handle.read(4)
    except FileNotFoundError:
        raise ImportFormatError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ImportFormatError(f"{path}: is a folder, not a file") from None
    except OSError as exc:
        raise ImportFormatError(f"{path}: cannot read it ({exc.strerror})") from None
    if magic[:2] == GZIP_MAGIC:
        return [Source(path, path.name, lambda report: _gzip_reader(path, size, report), size, "gzip", progress)]
    if magic in ZIP_MAGIC:
        return _zip_sources(path, size, progress)
    return [Source(path, path.name, lambda report: _counting(path.open("rb"), size, report), size, None, progress)]


def _gzip_reader(path: Path, size: int, progress: Progress | None) -> IO[bytes]:
    return _GzipNamed(path, gzip.GzipFile(fileobj=_counting(path.open("rb"), size, progress), mode="rb"))


class _GzipNamed(io.BufferedReader):
    """A gzip stream whose damage is reported as the file's, not as Python's."""

    def __init__(self, path: Path, raw: gzip.GzipFile) -> None:
        super().__init__(raw, buffer_size=1 << 16)  # type: ignore[arg-type]
        self._path = path

    def read(self, size: int | None = -1) -> bytes:
        try:
            return super().read(size)
        except (OSError, EOFError, gzip.BadGzipFile) as exc:
            raise ImportFormatError(f"{self._path.name}: a gzip file, but it is damaged or cut short ({exc})") from None

    def read1(self, size: int = -1) -> bytes:
        try:
            return super().read1(size)
        except (OSError, EOFError, gzip.BadGzipFile) as exc:
            raise ImportFormatError(f"{self._path.name}: a gzip file, but it is damaged or cut short ({exc})") from None


def _zip_sources(path: Path, size: int, progress: Progress | None) -> list[Source]:
    try:
        archive = zipfile.ZipFile(path)
        members = [info for info in archive.infolist() if not info.is_dir()]
    except (zipfile.BadZipFile, OSError) as exc:
        raise ImportFormatError(f"{path.name}: a zip file, but it cannot be read ({exc})") from None
    preferred = [info for info in members if PurePosixPath(info.filename).name == ZIP_PREFERRED]
    chosen = preferred or [info for info in members if _worth_reading(info.filename)]
    if not chosen:
        names = ", ".join(info.filename for info in members[:10]) or "nothing"
        raise ImportFormatError(f"{path.name}: a zip file with no JSON, JSON lines or YAML inside (it holds {names})")
    total = sum(info.file_size for info in chosen) or 1
    offsets = [sum(info.file_size for info in chosen[:position]) for position in range(len(chosen))]

    def opener(info: zipfile.ZipInfo, offset: int) -> Callable[[Progress | None], IO[bytes]]:
        return lambda report: _counting(zipfile.ZipFile(path).open(info), total, report, offset)  # runs on across members

    return [Source(path, f"{path.name}:{info.filename}", opener(info, offset), info.file_size, "zip", progress)
            for info, offset in zip(chosen, offsets)]


def _worth_reading(name: str) -> bool:
    suffix = PurePosixPath(name).suffix.lower()
    hidden = any(part.startswith(".") or part == "__MACOSX" for part in PurePosixPath(name).parts)
    return not hidden and suffix in {".json", ".jsonl", ".ndjson", ".af", ".traj", ".yaml", ".yml", ""}


def _counting(handle: IO[bytes], total: int, progress: Progress | None, offset: int = 0) -> IO[bytes]:
    return io.BufferedReader(_CountingReader(handle, total, progress, offset), buffer_size=1 << 16)


class _CountingReader(io.RawIOBase):
    """A file that calls `progress(read, total)` as it is read (about once a mebibyte)."""

    def __init__(self, handle: IO[bytes], total: int, progress: Progress | None, offset: int = 0) -> None:
        self._handle, self._total, self._progress = handle, max(total, 1), progress
        self._read = self._reported = 0
        self._offset = offset  # bytes of the archive's earlier members

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
        data = self._handle.read(len(buffer))
        buffer[: len(data)] = data
        self._read += len(data)
        if self._progress and (self._read - self._reported >= PROGRESS_STEP or not data):
            self._reported = self._read
            self._progress(min(self._offset + self._read, self._total), self._total)
        return len(data)

    def close(self) -> None:
        self._handle.close()
        super().close()


# ---- text and JSON ---------------------------------------------------------------------------


def _read_or_refuse(source: Source, stream: IO[bytes], size: int) -> bytes:
    try:
        return stream.read(size)
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        raise source.error(None, f"cannot read it ({exc})") from None


def _decode(source: Source, data: bytes) -> str:
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise source.error(None, "the file is UTF-16 text; save it as UTF-8")
    try:
        return data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise source.error(f"line {line}", f"not UTF-8 text (bad byte at offset {exc.start}); save it as UTF-8") from None


def _ijson_reason(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:200]


def _shape_words(shape: str) -> str:
    return {"array": "a JSON array", "object": "a JSON object", "lines": "JSON lines", "string": "a JSON string",
            "text": "text that is not JSON", "empty": "an empty file"}.get(shape, shape)


__all__ = ["MAX_NESTING", "Progress", "Sample", "Source", "load_json", "open_sources"]
