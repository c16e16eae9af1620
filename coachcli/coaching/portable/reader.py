"""Walk an export file as a stream of records, one object at a time (ijson events).

A conversation can hold hundreds of thousands of messages, so no list is ever built whole:
each message, fact, note... is built on its own and handed over with the path that names it
in errors (`conversations[0].messages[12]`). A conversation's or goal's own fields arrive when
its object closes, after its messages; the importer reads the file twice for that reason.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from typing import IO, Any

# Top-level lists of plain records, and the kind of each item.
RECORD_LISTS = {"facts": "fact", "progress": "progress", "agents": "agent", "dispatches": "dispatch"}
# Top-level lists whose items hold their own lists: kind of the item, and of each child list.
CONTAINER_LISTS = {
    "conversations": ("conversation", {"messages": "message", "memories": "memory"}),
    "goals": ("goal", {"progress": "goal_progress"}),
}
_OPENING = ("start_map", "start_array")
_CLOSING = ("end_map", "end_array")
UTF8_BOM = b"\xef\xbb\xbf"
NOT_UNICODE = "holds text that is not valid Unicode (an unpaired surrogate such as \\udcff)"


class FileFormatError(Exception):
    """The file is not JSON, or not shaped like an export at all: reading cannot go on."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(f"{where}: {message}" if where else message)


@dataclass
class Record:
    kind: str  # "top" (format, version, ...), "fact", "conversation", "message", "goal_progress", ...
    path: str  # where it is in the file, for error messages
    value: Any
    index: int  # position in its list (for "top": 0)
    parent: int = -1  # for messages, memories, goal_progress: the index of their conversation or goal
    key: str = ""  # for "top": the key


def records(source: IO[bytes]) -> Iterator[Record]:
    """Every record of the file in file order; FileFormatError when it is not JSON or not an object."""
    import ijson

    rewind(source)
    walker = _Walker()
    try:
        for event, value in ijson.basic_parse(_SurrogateGuard(source), use_float=True):
            yield from walker.feed(event, value)
    except ijson.JSONError as exc:
        raise FileFormatError(walker.where(), f"not valid JSON ({_first_line(exc)})") from None
    except UnicodeDecodeError:  # yajl hands a lone low surrogate (\\udcff) on as bytes no UTF-8 reads
        raise FileFormatError(walker.where(pending=True), NOT_UNICODE) from None
    if not walker.finished:
        raise FileFormatError("", "the file is empty")


_HIGH_ESCAPE = re.compile(rb"(\\+)u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F][0-9a-fA-F]{2})")
_HOLD = 12  # an escape and the one after it: what must be seen whole before a byte is passed on


class _SurrogateGuard:
    """The file's bytes with each unpaired high surrogate escape (\\ud800 not followed by a low
    one) turned into a lone low one (\\udc00). yajl quietly makes the first a "?" or glues it to the
    next escape, but hands the second on as bytes no UTF-8 reads: records() then names the place."""

    def __init__(self, source: IO[bytes]) -> None:
        self._source = source
        self._held = b""

    def read(self, size: int = -1) -> bytes:
        if size == 0:
            return b""
        while True:
            chunk = self._source.read(size)
            data = self._held + chunk
            cut = len(data) if not chunk else max(0, len(data) - _HOLD)
            while 0 < cut < len(data) and data[cut - 1] == ord("\\"):  # never split a run of backslashes
                cut -= 1
            fixed = _HIGH_ESCAPE.sub(partial(_unpaired, cut=cut), data)  # same length: escapes for escapes
            self._held = fixed[cut:]
            if cut or not chunk:
                return fixed[:cut]


def _unpaired(match: re.Match[bytes], *, cut: int) -> bytes:
    run = match.group(1)
    if len(run) % 2 == 0 or match.end(1) - 1 >= cut:  # an escaped backslash, or not seen whole yet
        return match.group(0)
    return run + b"udc00"


def rewind(source: IO[bytes]) -> None:
    """To the start of the JSON text: past a UTF-8 byte order mark, which some editors write."""
    source.seek(0)
    head = source.read(3)
    if not head:
        raise FileFormatError("", "the file is empty")
    if head != UTF8_BOM:
        source.seek(0)


def messages(source: IO[bytes]) -> Iterator[Any]:
    """Just the messages, in file order, built by ijson's C code: the write pass reads them this
    way (the first pass has already checked the file and counted each conversation's messages)."""
    import ijson

    rewind(source)
    return ijson.items(source, "conversations.item.messages.item", use_float=True)


def _first_line(exc: Exception) -> str:
    text = exc.args[0] if exc.args else str(exc)
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    first = str(text).strip().splitlines()[0] if str(text).strip() else "unreadable"
    if "premature EOF" in first:
        return "it ends too early: is the file truncated?"
    return first


class _Builder:
    """Builds one value from events, however deeply nested, knowing where inside it it is."""

    def __init__(self) -> None:
        from ijson.common import ObjectBuilder

        self._builder = ObjectBuilder()
        self._steps: list[str | int] = []  # per open level: the last key read, or the last index

    def feed(self, event: str, value: Any) -> bool:
        """Take one event; True once the value is complete."""
        self._builder.event(event, value)
        if event in _CLOSING:
            self._steps.pop()
        elif event == "map_key":
            self._steps[-1] = str(value)
        else:
            if self._steps and isinstance(self._steps[-1], int):
                self._steps[-1] += 1
            if event in _OPENING:
                self._steps.append(-1 if event == "start_array" else "")
        return not self._steps

    def place(self) -> str:
        """Where the next value goes (`.text`, `.tool_calls[1]`): the place of a value that failed."""
        steps = list(self._steps)
        if steps and isinstance(steps[-1], int):
            steps[-1] += 1  # the failed value is the next item of the open list
        return "".join(f"[{step}]" if isinstance(step, int) else f".{step}" for step in steps if step != "")

    @property
    def value(self) -> Any:
        return self._builder.value


@dataclass
class _Frame:
    role: str  # root | records | containers | container | children
    kind: str = ""  # for records/children lists: the item kind; for containers: the container kind
    name: str = ""  # the list's key
    index: int = -1  # current item index inside a list
    parent: int = -1
    children: dict[str, str] | None = None
    header: dict[str, Any] | None = None
    key: str | None = None  # last map key read (root, container)


class _Walker:
    """A small state machine over ijson's basic events."""

    def __init__(self) -> None:
        self.stack: list[_Frame] = []
        self.builder: _Builder | None = None
        self.target: tuple[str, str, int, int, str] | None = None  # what the builder builds
        self.started = False
        self.finished = False
        self.top_keys: set[str] = set()

    def where(self, *, pending: bool = False) -> str:
        """The path of the innermost item being read, for errors; `pending`: of the value that was
        being read when reading failed (the next item of a list, the value of the last key)."""
        parts: list[str] = []
        for depth, frame in enumerate(self.stack):
            innermost = pending and self.builder is None and depth == len(self.stack) - 1
            if frame.role in ("records", "containers", "children") and innermost:
                parts.append(f"{frame.name}[{frame.index + 1}]")
            elif frame.role in ("records", "containers", "children") and frame.index >= 0:
                parts.append(f"{frame.name}[{frame.index}]")
            elif frame.role == "container" and innermost and frame.key:
                parts[-1] += f".{frame.key}"
            elif frame.role == "root" and frame.key and len(self.stack) == 1:
                parts.append(frame.key)
        inside = self.builder.place() if pending and self.builder is not None else ""
        return ".".join(parts) + inside if parts else inside.lstrip(".")

    def feed(self, event: str, value: Any) -> Iterator[Record]:
        if self.builder is not None:
            if self.builder.feed(event, value):
                yield from self._built(self.builder.value)
            return
        if not self.started:
            self.started = True
            if event != "start_map":
                raise FileFormatError("", 'the file must hold one JSON object, {"format": ...}')
            self.stack.append(_Frame("root"))
            return
        frame = self.stack[-1]
        if frame.role in ("root", "container"):
            yield from self._in_map(frame, event, value)
        else:
            yield from self._in_list(frame, event, value)

    def _in_map(self, frame: _Frame, event: str, value: Any) -> Iterator[Record]:
        if event == "map_key":
            if frame.role == "root" and value in self.top_keys:
                raise FileFormatError(value, "appears twice in the file")
            if frame.role == "root":
                self.top_keys.add(value)
            frame.key = value
            return
        if event == "end_map":
            self.stack.pop()
            if frame.role == "root":
                self.finished = True
            else:
                outer = self.stack[-1]
                path = f"{outer.name}[{outer.index}]"
                yield Record(frame.kind, path, frame.header, outer.index)
            return
        key = frame.key or ""
        if frame.role == "root" and key in RECORD_LISTS:
            self._open_list(event, key, _Frame("records", RECORD_LISTS[key], key))
        elif frame.role == "root" and key in CONTAINER_LISTS:
            kind, children = CONTAINER_LISTS[key]
            self._open_list(event, key, _Frame("containers", kind, key, children=children))
        elif frame.role == "container" and frame.children and key in frame.children:
            outer = self.stack[-2]
            child = _Frame("children", frame.children[key], key, parent=outer.index)
            self._open_list(event, f"{outer.name}[{outer.index}].{key}", child)
        else:
            self._start_value(event, value, ("field", key, 0, -1, key))
            if self.builder is not None:
                return
            yield from self._built(value)

    def _open_list(self, event: str, path: str, frame: _Frame) -> None:
        if event != "start_array":
            raise FileFormatError(path, f"must be a list, not {_EVENT_TYPES.get(event, event)}")
        self.stack.append(frame)

    def _in_list(self, frame: _Frame, event: str, value: Any) -> Iterator[Record]:
        if event == "end_array":
            self.stack.pop()
            return
        frame.index += 1
        if frame.role == "containers" and event == "start_map":
            self.stack.append(_Frame("container", frame.kind, children=frame.children, header={}))
            return
        self._start_value(event, value, ("item", frame.kind, frame.index, frame.parent, ""))
        if self.builder is None:
            yield from self._built(value)

    def _start_value(self, event: str, value: Any, target: tuple[str, str, int, int, str]) -> None:
        self.target = target
        if event in _OPENING:
            self.builder = _Builder()
            self.builder.feed(event, value)

    def _built(self, value: Any) -> Iterator[Record]:
        self.builder = None
        assert self.target is not None
        what, kind, index, parent, key = self.target
        frame = self.stack[-1]
        if what == "field" and frame.role == "container":
            assert frame.header is not None
            frame.header[key] = value
            return
        if what == "field":  # a top-level scalar or object: format, version, exported_at, user, ...
            yield Record("top", key, value, 0, key=key)
            return
        path = self._item_path(frame, index)
        yield Record(kind, path, value, index, parent)

    def _item_path(self, frame: _Frame, index: int) -> str:
        if frame.role == "children":
            outer = self.stack[-3]
            return f"{outer.name}[{outer.index}].{frame.name}[{index}]"
        return f"{frame.name}[{index}]"


_EVENT_TYPES = {
    "start_map": "an object",
    "string": "a string",
    "number": "a number",
    "integer": "a number",
    "double": "a number",
    "boolean": "true/false",
    "null": "null",
}
