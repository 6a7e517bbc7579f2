"""An on-disk queue of raw event messages, for when they cannot go to the store yet.

The receiver appends while the store is unreachable or the writer is behind; the writer
takes from the oldest end and acknowledges once a batch is committed, so a crash between
the two replays that batch (merges are idempotent) instead of losing it. Messages live in
append-only segment files of length-prefixed records; a torn record at the end of a
segment (a crash mid-write) is ignored. The total size is capped: past it the oldest
segment goes, and what it held is counted as dropped.
"""
from __future__ import annotations

import logging
import os
import struct
import threading
from pathlib import Path
from typing import Any, BinaryIO

import orjson

log = logging.getLogger(__name__)

SEGMENT_BYTES = 4 << 20  # a segment is closed and a new one started past this size
_HEADER = struct.Struct("<cI")  # kind (b"B" raw bytes, b"J" a decoded body as JSON), length
_POSITION = "position"


def _encode(message: Any) -> bytes:
    if isinstance(message, (bytes, bytearray, memoryview)):
        payload, kind = bytes(message), b"B"
    else:
        payload, kind = orjson.dumps(message, default=repr), b"J"
    return _HEADER.pack(kind, len(payload)) + payload


def _decode(kind: bytes, payload: bytes) -> Any:
    return payload if kind == b"B" else orjson.loads(payload)


def _read_records(path: Path, offset: int, limit: int,
                  limit_bytes: int = 1 << 62) -> tuple[list[Any], int]:
    """Up to `limit` whole records from `offset`, and no more once `limit_bytes` are read;
    returns them and the offset after them."""
    messages: list[Any] = []
    start = offset
    try:
        with open(path, "rb") as segment:
            segment.seek(offset)
            while len(messages) < limit and offset - start < limit_bytes:
                header = segment.read(_HEADER.size)
                if len(header) < _HEADER.size:
                    break
                kind, length = _HEADER.unpack(header)
                payload = segment.read(length)
                if len(payload) < length:
                    break  # torn or still being written
                offset += _HEADER.size + length
                try:
                    messages.append(_decode(kind, payload))
                except orjson.JSONDecodeError:
                    continue  # a record damaged on disk: skip it, keep the rest
    except FileNotFoundError:
        pass
    return messages, offset


def _count_records(path: Path) -> int:
    count, offset = 0, 0
    while True:
        batch, offset = _read_records(path, offset, 10_000)
        if not batch:
            return count
        count += len(batch)


class Spool:
    """Thread-safe: one appending thread and one taking thread."""

    def __init__(self, directory: str | os.PathLike, max_bytes: int):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self.dropped = 0
        self.appended = 0  # messages this process put in the spool, whether taken since or not
        self._segments = sorted(int(path.stem) for path in self.directory.glob("*.seg"))
        self._sizes = {number: self._path(number).stat().st_size for number in self._segments}
        self._read_segment, self._read_offset = self._load_position()
        for number in [n for n in self._segments if n < self._read_segment]:
            self._forget(number)  # acknowledged before a crash kept them from going
        self._messages = sum(
            len(_read_records(self._path(number),
                              self._read_offset if number == self._read_segment else 0,
                              1 << 62)[0])
            for number in self._segments)
        self._taken: tuple[int, int] | None = None  # position after the last take, unacknowledged
        self._append_file: BinaryIO | None = None  # a restart appends to a new segment

    def _path(self, number: int) -> Path:
        return self.directory / f"{number:012d}.seg"

    def _load_position(self) -> tuple[int, int]:
        first = (self._segments[0] if self._segments else 0), 0
        try:
            segment, offset = (int(part) for part in
                               (self.directory / _POSITION).read_text().split())
        except (FileNotFoundError, ValueError):
            return first
        return (segment, offset) if segment in self._sizes else first

    # -- the receiver's side -------------------------------------------------------------

    def append(self, message: Any) -> None:
        record = _encode(message)
        with self._lock:
            append_file = self._append_file
            if append_file is None or self._sizes[self._segments[-1]] >= SEGMENT_BYTES:
                append_file = self._start_segment()
            append_file.write(record)
            append_file.flush()  # visible to the reader, and to a restart after a crash
            self._sizes[self._segments[-1]] += len(record)
            self._messages += 1
            self.appended += 1
            while sum(self._sizes.values()) > self.max_bytes and len(self._segments) > 1:
                self._drop_oldest()

    def _start_segment(self) -> BinaryIO:
        if self._append_file is not None:
            self._append_file.close()
        number = (self._segments[-1] + 1) if self._segments else 1
        self._segments.append(number)
        self._sizes[number] = 0
        self._append_file = open(self._path(number), "ab")
        if len(self._segments) == 1:
            self._read_segment, self._read_offset = number, 0
        return self._append_file

    def _drop_oldest(self) -> None:
        number = self._segments.pop(0)
        path = self._path(number)
        lost = len(_read_records(path, self._read_offset if number == self._read_segment else 0,
                                 1 << 62)[0])
        self.dropped += lost
        self._messages -= lost
        del self._sizes[number]
        path.unlink(missing_ok=True)
        if number == self._read_segment:
            self._read_segment, self._read_offset, self._taken = self._segments[0], 0, None
        log.error("spool over %d bytes: dropped its oldest %d messages", self.max_bytes, lost)

    # -- the writer's side ---------------------------------------------------------------

    def __len__(self) -> int:
        return self._messages

    @property
    def size(self) -> int:
        return sum(self._sizes.values())

    def take(self, limit: int, limit_bytes: int = 1 << 62) -> list[Any]:
        """The oldest messages not yet acknowledged (the same ones again until `ack`), up to
        `limit` of them and about `limit_bytes`."""
        with self._lock:
            segment, offset = self._read_segment, self._read_offset
            while segment in self._sizes:
                messages, end = _read_records(self._path(segment), offset, limit, limit_bytes)
                if messages:
                    self._taken = (segment, end)
                    return messages
                later = [number for number in self._segments if number > segment]
                if not later:
                    return []
                segment, offset = later[0], 0
            return []

    def ack(self, count: int) -> None:
        """The messages of the last `take` are in the store: forget them for good."""
        with self._lock:
            if self._taken is None:
                return
            segment, offset = self._taken
            self._taken = None
            for number in [n for n in self._segments if n < segment]:
                self._forget(number)
            self._read_segment, self._read_offset = segment, offset
            self._messages = max(0, self._messages - count)
            if offset >= self._sizes[segment]:  # this segment is done
                if segment == self._segments[-1]:
                    self._reset()
                else:
                    self._forget(segment)
                    self._read_segment, self._read_offset = self._segments[0], 0
            (self.directory / _POSITION).write_text(f"{self._read_segment} {self._read_offset}")

    def _forget(self, number: int) -> None:
        self._segments.remove(number)
        del self._sizes[number]
        self._path(number).unlink(missing_ok=True)

    def _reset(self) -> None:
        """Everything taken and acknowledged: start again from an empty segment."""
        if self._append_file is not None:
            self._append_file.close()
            self._append_file = None
        for number in list(self._segments):
            self._forget(number)
        self._read_segment, self._read_offset = 0, 0

    def close(self) -> None:
        with self._lock:
            if self._append_file is not None:
                self._append_file.close()
                self._append_file = None
