"""The exceptions of dcom_detect.

Every error the package raises on purpose is a :class:`DcomDetectError`; the subclasses say
what went wrong, and also derive from the built-in exception a caller would expect
(``ValueError`` for bad data, ``OSError`` for unreadable input), so existing ``except``
clauses keep working. Passing an argument of the wrong type raises the built-in
``TypeError``.
"""

from __future__ import annotations

__all__ = [
    "DcomDetectError",
    "BadEventError",
    "ExceptionsFileError",
    "UnreadableInputError",
    "ColumnError",
]


class DcomDetectError(Exception):
    """Base class of every error raised by dcom_detect."""


class BadEventError(DcomDetectError, ValueError):
    """An event could not be read as Elasticsearch would index it.

    Raised for malformed JSON, a record that is not a JSON object, duplicate keys, invalid
    UTF-8, a float that JSON cannot carry (NaN, infinity), nesting deeper than the limit,
    and the other rejections of the engine's document model (see ``docs/semantics.md``).

    Attributes:
        reason: what is wrong, without the position.
        offset: byte offset in the event's JSON text where it went wrong, when known.
        index: position of the event in the iterable given to ``Rule.match_many``, when the
            error came from there.
    """

    reason: str
    offset: int | None
    index: int | None

    def __init__(
        self,
        message: str,
        *,
        reason: str | None = None,
        offset: int | None = None,
        index: int | None = None,
    ) -> None:
        super().__init__(message)
        self.reason = reason if reason is not None else message
        self.offset = offset
        self.index = index


class ExceptionsFileError(DcomDetectError, ValueError):
    """An exceptions (tuning) file was refused when the rule was built.

    ``str(error)`` is the engine's message, which says what is wrong and where, prefixed
    with the file's path when it was read from one::

        rules/tuning.json: bad exceptions file: item 2 ("second"), entry 1 (field "host.name"):
        unknown operator "equals"; expected one of "is", "is not", ...

    An exceptions file that cannot be read at all raises :class:`UnreadableInputError`.

    Attributes:
        reason: what is wrong, without the location.
        path: the file, when the exceptions came from a path.
        item: 1-based number of the offending item, when the problem is in an item.
        item_name: that item's name, when it has one.
        entry: 1-based number of the offending entry within the item, when the problem is in
            an entry.
        field: that entry's ``field``, when known.
    """

    reason: str
    path: str | None
    item: int | None
    item_name: str | None
    entry: int | None
    field: str | None

    def __init__(
        self,
        message: str,
        *,
        reason: str | None = None,
        path: str | None = None,
        item: int | None = None,
        item_name: str | None = None,
        entry: int | None = None,
        field: str | None = None,
    ) -> None:
        super().__init__(message)
        self.reason = reason if reason is not None else message
        self.path = path
        self.item = item
        self.item_name = item_name
        self.entry = entry
        self.field = field


class UnreadableInputError(DcomDetectError, OSError):
    """An input could not be opened or read: a missing file, a directory, a permission
    problem, an I/O error or corrupt compressed data in the middle of a scan, or an
    exception raised by a file object's ``read()`` or by an iterable of records (chained
    as ``__cause__``).

    It is an ``OSError``: ``errno``, ``strerror`` and ``filename`` are set when the
    operating system reported the error.
    """


class ColumnError(DcomDetectError, ValueError):
    """A column of Arrow data (or of a Parquet file) that the rule reads cannot be read.

    Raised by :meth:`Rule.match_arrow`, :meth:`Rule.match_frame` and
    :meth:`Rule.alerts_arrow` (and by a Parquet scan, as :class:`UnreadableInputError`) for a
    column of a type the engine does not take as text (floats, binary, temporal, …), a
    struct where the rule reads a value or a value where it reads a struct, and a column
    named in ``columns=`` that the data does not have. ``str(error)`` names the column::

        column "process.pid" (read as process.name): is Float64 (floating point): ...

    Attributes:
        reason: what is wrong, without the column.
        kind: what is wrong, as a name a program can test: ``"not_in_data"`` (a column
            named in ``columns=`` is missing), ``"duplicate_name"`` (two columns on the
            field's path share a name), ``"not_a_struct"`` (a value where the field's path
            needs a struct), ``"too_deep"`` (too many nested struct and list levels),
            ``"struct"`` (a struct or map where the rule reads a value), ``"dictionary"``
            (a dictionary of non-strings), ``"float"`` (floating point), or
            ``"unsupported_type"`` (binary, temporal, decimal, ...); ``"other"`` for a kind
            newer than this list.
        field: the ECS field being read (``process.name``).
        column: the column (path) at fault.
    """

    reason: str
    kind: str | None
    field: str | None
    column: str | None

    def __init__(
        self,
        message: str,
        *,
        reason: str | None = None,
        kind: str | None = None,
        field: str | None = None,
        column: str | None = None,
    ) -> None:
        super().__init__(message)
        self.reason = reason if reason is not None else message
        self.kind = kind
        self.field = field
        self.column = column
