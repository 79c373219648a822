"""Durable files: kernel locks, atomic replacement, append-only logs, and a read cache that is never stale.

* ``exclusive(path)`` holds an exclusive ``flock`` on a lock file or a folder. A thread that waits
  sleeps in the kernel until the holder lets go (never a polling loop); a helper thread gives the
  wait its timeout. The kernel releases the lock when its holder dies.
* ``commit(...)`` makes one change durable: an audit batch appended to an append-only log and whole
  files, each written to a temporary file in ``tmp/``. The log entry and the temporary files are
  written first and then fsynced together (one fsync window); each is read back and compared; only
  then are the files renamed over the old ones and their folders fsynced. So a crash leaves every
  file whole (old or new), and a stored change always has its audit entry (write-ahead).
* ``LogAppend`` appends one batch of whole lines with one ``write`` under the log's own lock; a
  torn tail left by a crash or a full disk is cut first, so a new line never glues onto it.
* ``ReadCache`` keeps the parsed JSON of each file with the bytes it was parsed from. A read reads
  the file (cheap) and parses it only when its bytes differ from the cached ones: a file version is
  parsed once per process, and a cached value is never stale, whatever other processes did
  (no inode, size or mtime guess, which a reused inode within one clock tick could fool).
* ``Register`` reads an append-only JSON-lines file incrementally: only lines appended since the
  last read are parsed.

Temporary files live in ``tmp/`` and are held under ``flock`` by their writer until renamed, so a
process starting up removes only those nobody holds (a writer in another container or PID
namespace keeps its file).
"""
from __future__ import annotations

import errno
import fcntl
import json
import os
import threading
import time
import uuid
from collections import OrderedDict
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

__all__ = [
    "FILE_MODE", "DIR_MODE", "LOCK_TIMEOUT", "LockTimeout", "exclusive", "commit", "LogAppend",
    "ReadCache", "Register", "parse_json", "dump_json", "make_folder", "fsync_dir", "read_lines",
    "remove_orphaned_temporaries", "private", "read_json",
]

FILE_MODE = 0o600
DIR_MODE = 0o700
LOCK_TIMEOUT = 30.0
ORPHAN_AGE = 60.0  # a temporary file nobody holds and older than this is a dead writer's


class LockTimeout(Exception):
    """Another writer held the lock for longer than the timeout."""


def private(path: str, flags: int) -> int:
    """``open(..., opener=private)``: a new file is readable by the app's user only."""
    return os.open(path, flags, FILE_MODE)


def parse_json(path: Path, raw: bytes) -> Any:
    """Every parse of a stored file goes through here (the seam tests count parses with)."""
    return json.loads(raw)


def dump_json(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def make_folder(path: Path) -> bool:
    """Create a 0700 folder durably (its parent fsynced); False if it existed."""
    try:
        os.mkdir(path, DIR_MODE)
    except FileExistsError:
        return False
    fsync_dir(path.parent)
    return True


# ---------------------------------------------------------------- locks


def _flock(fd: int, timeout: float | None) -> None:
    """Take an exclusive flock on ``fd``, waiting in the kernel at most ``timeout`` seconds (None: for good)."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return
    except BlockingIOError:
        if timeout is not None and timeout <= 0:
            raise LockTimeout() from None
    if timeout is None:
        fcntl.flock(fd, fcntl.LOCK_EX)
        return
    # flock has no timeout: a helper thread sleeps in it on a duplicate of the descriptor (the lock
    # belongs to the open file, so it is ours once taken); this thread waits for the helper.
    waiter = os.dup(fd)
    mutex = threading.Lock()
    state: dict[str, Any] = {"finished": False, "gave_up": False, "error": None}
    done = threading.Event()

    def wait() -> None:
        error = None
        try:
            fcntl.flock(waiter, fcntl.LOCK_EX)
        except OSError as exc:
            error = exc
        with mutex:
            state["error"] = error
            state["finished"] = True
            if error is None and state["gave_up"]:
                fcntl.flock(waiter, fcntl.LOCK_UN)
        os.close(waiter)
        done.set()

    threading.Thread(target=wait, name="pro-app-lock-wait", daemon=True).start()
    done.wait(timeout)
    with mutex:
        if not state["finished"]:
            state["gave_up"] = True
            raise LockTimeout()
    if state["error"] is not None:
        raise state["error"]


@contextmanager
def exclusive(path: Path, timeout: float | None = LOCK_TIMEOUT) -> Iterator[None]:
    """Hold an exclusive OS lock on ``path``: a folder, or a lock file (created if missing)."""
    if path.is_dir():
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    else:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, FILE_MODE)
    try:
        _flock(fd, timeout)
        yield
    finally:
        os.close(fd)  # releases the lock


# ---------------------------------------------------------------- append-only logs


def _cut_torn_tail(fd: int) -> int:
    """Cut what follows the log's last newline (a torn entry, a stray byte); return the new end."""
    end = os.fstat(fd).st_size
    if end == 0 or os.pread(fd, 1, end - 1) == b"\n":
        return end
    position = end
    while position > 0:
        start = max(0, position - 65536)
        block = os.pread(fd, position - start, start)
        newline = block.rfind(b"\n")
        if newline >= 0:
            position = start + newline + 1
            break
        position = start
    os.ftruncate(fd, position)
    os.fsync(fd)
    return position


def _last_line(fd: int, end: int) -> bytes:
    """The last whole line before ``end`` (which follows a newline), without its newline."""
    size = 4096
    while True:
        start = max(0, end - size)
        block = os.pread(fd, end - start, start)
        cut = block.rstrip(b"\n").rfind(b"\n")
        if cut >= 0 or start == 0:
            return block[cut + 1:].rstrip(b"\n")
        size *= 4


def _last_seq(fd: int, end: int) -> int:
    if end == 0:
        return 0
    try:
        return int(json.loads(_last_line(fd, end)).get("seq") or 0)
    except (ValueError, AttributeError):
        return 0


class LogAppend:
    """An append-only JSON-lines log, opened and locked for one batch of entries.

    ``write(entries)`` numbers the entries (``seq``: nanoseconds since the epoch, always above the
    log's last entry, so the log's order is its entries' order) and appends them with one write;
    ``durable()`` fsyncs and reads the bytes back: if they are not exactly what was written (a
    stray write into a reused file descriptor), they are cut and written again.
    """

    def __init__(self, path: Path, timeout: float | None = LOCK_TIMEOUT):
        self.path = path
        self.fh = open(path, "a+b", buffering=0, opener=private)
        try:
            _flock(self.fh.fileno(), timeout)
        except BaseException:
            self.fh.close()
            raise
        self.start = 0
        self.text = b""

    def __enter__(self) -> "LogAppend":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        self.fh.close()

    def write(self, entries: list[dict[str, Any]]) -> None:
        fd = self.fh.fileno()
        self.start = _cut_torn_tail(fd)
        seq = max(time.time_ns(), _last_seq(fd, self.start) + 1)
        lines = []
        for entry in entries:
            entry["seq"] = seq
            seq += 1
            lines.append(json.dumps(entry, ensure_ascii=False, separators=(",", ":"), default=str) + "\n")
        self.text = "".join(lines).encode("utf-8")
        self._append()

    def write_lines(self, text: bytes) -> None:
        """Append lines as they are (the patient register's records)."""
        self.start = _cut_torn_tail(self.fh.fileno())
        self.text = text
        self._append()

    def _append(self) -> None:
        written = 0
        while written < len(self.text):  # one write; another only after a short write (a full disk)
            written += self.fh.write(self.text[written:])

    def durable(self) -> None:
        fd = self.fh.fileno()
        for attempt in (1, 2):
            os.fsync(fd)
            if os.pread(fd, os.fstat(fd).st_size - self.start + 1, self.start) == self.text:
                return
            os.ftruncate(fd, self.start)  # not what was written: take it back and write again
            os.fsync(fd)
            if attempt == 1:
                if _cut_torn_tail(fd) != self.start:  # pragma: no cover - a line was cut under our lock
                    break
                self._append()
        raise OSError(errno.EIO, f"{self.path.name}: the appended entry did not read back as written")

    def append(self, entries: list[dict[str, Any]]) -> None:
        self.write(entries)
        self.durable()


def read_lines(path: Path) -> list[dict[str, Any]]:
    """Every whole entry of a JSON-lines log; a torn or stray line is skipped, never an error."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return []
    entries = []
    for line in raw.decode("utf-8", errors="replace").splitlines():
        line = line.strip().strip("\x00")
        if line:
            try:
                entries.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return entries


# ---------------------------------------------------------------- whole files


class _Staged:
    """One file's new content in a locked temporary file, until it is renamed into place."""

    def __init__(self, tmp_dir: Path, target: Path, raw: bytes):
        self.target = target
        self.raw = raw
        self.tmp = tmp_dir / f"{target.name}.{uuid.uuid4().hex}.tmp"
        self.fh = open(self.tmp, "x+b", buffering=0, opener=private)
        fcntl.flock(self.fh.fileno(), fcntl.LOCK_EX)  # held until renamed: start-up leaves it alone
        self.renamed = False
        self._write()

    def _write(self) -> None:
        written = 0
        while written < len(self.raw):
            written += self.fh.write(self.raw[written:])

    def durable(self) -> None:
        fd = self.fh.fileno()
        for attempt in (1, 2):
            os.fsync(fd)
            if os.pread(fd, len(self.raw) + 1, 0) == self.raw:
                return
            os.ftruncate(fd, 0)  # a stray write landed in it: it never replaces a good file
            self.fh.seek(0)
            if attempt == 1:
                self._write()
        raise OSError(errno.EIO, f"{self.target.name}: the written file did not read back as written")

    def close(self) -> None:
        self.fh.close()
        if not self.renamed:
            try:
                self.tmp.unlink()
            except OSError:
                pass


def commit(tmp_dir: Path, writes: dict[Path, Any], cache: "ReadCache | None" = None,
           log: Path | None = None, entries: list[dict[str, Any]] | None = None,
           held_log: LogAppend | None = None) -> None:
    """Make one change durable: the audit ``entries`` on ``log``, then ``writes`` (path -> JSON data).

    The entries and the temporary files are written, then fsynced (the entries first), read back,
    and only then are the files renamed into place (in the order given) and their folders fsynced.
    An ``OSError`` raised after the entries reached the disk has ``audit_written = True``: the
    caller records that the change was not stored.
    """
    staged: list[_Staged] = []
    appender = held_log
    logged = False
    try:
        if entries:
            if appender is None:
                appender = LogAppend(log)  # type: ignore[arg-type]
            appender.write(entries)
        for target, data in writes.items():
            staged.append(_Staged(tmp_dir, target, dump_json(data)))
        if entries:
            appender.durable()  # type: ignore[union-attr]
            logged = True
        for item in staged:
            item.durable()
        for item in staged:
            os.replace(item.tmp, item.target)
            item.renamed = True
        for folder in dict.fromkeys(item.target.parent for item in staged):
            fsync_dir(folder)
        if cache is not None:
            for item in staged:
                # Decoded from the bytes written, not the caller's objects: nothing in the cache is shared.
                cache.put(item.target, item.raw, json.loads(item.raw))
    except OSError as exc:
        exc.audit_written = logged  # type: ignore[attr-defined]
        if cache is not None:
            for item in staged:
                cache.drop(item.target)
        raise
    finally:
        for item in staged:
            item.close()
        if appender is not None and appender is not held_log:
            appender.close()


def remove_orphaned_temporaries(tmp_dir: Path) -> None:
    """Delete temporary files of writers that died mid-write.

    A writer holds its temporary file under ``flock`` from the moment it creates it until it is
    renamed, so one that is older than ``ORPHAN_AGE`` and can be locked now is nobody's.
    """
    cutoff = time.time() - ORPHAN_AGE
    for tmp in tmp_dir.glob("*.tmp"):
        try:
            if tmp.stat().st_mtime > cutoff:
                continue
            fd = os.open(tmp, os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            tmp.unlink()
        except OSError:
            pass
        finally:
            os.close(fd)


# ---------------------------------------------------------------- reading


def _read_bytes(path: Path) -> bytes | None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    try:
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def read_json(path: Path) -> Any:
    """A file's JSON read past any cache (None if it is missing or empty): for reads of everything at once."""
    raw = _read_bytes(path)
    if not raw or not raw.strip():
        return None
    return parse_json(path, raw)


class ReadCache:
    """Parsed JSON by path, reused while the file holds the same bytes; least recently used dropped first.

    Values are shared: whoever reads one must copy before changing it (the store hands out copies).
    """

    def __init__(self, max_bytes: int = 64 << 20):
        self.max_bytes = max_bytes
        self._entries: OrderedDict[Path, tuple[bytes, Any]] = OrderedDict()
        self._bytes = 0
        self._mutex = threading.Lock()

    def read(self, path: Path) -> Any:
        """The file's data (None if it is missing or empty); ValueError if it is not JSON."""
        raw = _read_bytes(path)
        if not raw or not raw.strip():
            self.drop(path)
            return None
        with self._mutex:
            hit = self._entries.get(path)
            if hit is not None and hit[0] == raw:
                self._entries.move_to_end(path)
                return hit[1]
        data = parse_json(path, raw)
        self.put(path, raw, data)
        return data

    def put(self, path: Path, raw: bytes, data: Any) -> None:
        with self._mutex:
            old = self._entries.pop(path, None)
            if old is not None:
                self._bytes -= len(old[0])
            if len(raw) > self.max_bytes // 4:
                return
            self._entries[path] = (raw, data)
            self._bytes += len(raw)
            while self._bytes > self.max_bytes:
                _, (dropped, _) = self._entries.popitem(last=False)
                self._bytes -= len(dropped)

    def drop(self, path: Path) -> None:
        with self._mutex:
            old = self._entries.pop(path, None)
            if old is not None:
                self._bytes -= len(old[0])


class Register:
    """An append-only JSON-lines file read incrementally: each read parses only the lines appended since.

    Lines are only ever appended (whole, under the file's lock) and a torn tail is only ever cut back
    to the last newline, so the lines read before stay valid while the file is the same inode; the
    byte before the read position must still be a newline, else the file is read from the start.
    """

    def __init__(self, path: Path, key: Callable[[dict[str, Any]], str]):
        self.path = path
        self.key = key
        self._mutex = threading.Lock()
        self._inode: tuple[int, int] | None = None
        self._offset = 0
        self._records: dict[str, dict[str, Any]] = {}
        self._sorted: list[str] | None = None

    def sorted_keys(self) -> list[str]:
        """Every key in order, sorted once per change of the file (shared: do not change)."""
        with self._mutex:
            self._refresh()
            if self._sorted is None:
                self._sorted = sorted(self._records)
            return self._sorted

    def records(self) -> dict[str, dict[str, Any]]:
        """Every record by key (shared: copy before changing)."""
        with self._mutex:
            self._refresh()
            return self._records

    def _refresh(self) -> None:
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            self._inode, self._offset, self._records, self._sorted = None, 0, {}, None
            return
        try:
            st = os.fstat(fd)
            inode = (st.st_dev, st.st_ino)
            if inode != self._inode or st.st_size < self._offset or (
                    self._offset and os.pread(fd, 1, self._offset - 1) != b"\n"):
                self._inode, self._offset, self._records, self._sorted = inode, 0, {}, None
            if st.st_size == self._offset:
                return
            raw = os.pread(fd, st.st_size - self._offset, self._offset)
        finally:
            os.close(fd)
        whole = raw.rfind(b"\n") + 1
        records = dict(self._records)
        for line in raw[:whole].splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict):
                records[self.key(record)] = record
        self._records = records
        self._sorted = None
        self._offset += whole
