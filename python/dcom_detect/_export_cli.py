"""``dcom-detect rule --format sigma|splunk|eql|esql|lucene|kusto|sql``: the rule's Sigma
export, or its conversions by pySigma (:mod:`dcom_detect.export`)."""

from __future__ import annotations

from typing import Literal, TextIO

from ._native import sigma
from .export import TARGETS, MissingExtraError, Target, convert

FORMATS: tuple[str, ...] = ("text", "json", "sigma", *TARGETS)
"""``--format`` choices: the rule as text or JSON (the default views), Sigma, or a converted
query language."""

_COMMENT = {"splunk": "``` {} ```", "eql": "// {}", "esql": "// {}", "kusto": "// {}", "sql": "-- {}", "lucene": None}


def print_format(
    fmt: str, profile: Literal["seed", "elastic", "extended"], out: TextIO, err: TextIO
) -> tuple[bool, bool]:
    """Writes the rule(s) in ``fmt`` to ``out`` and what could not be converted to ``err``.

    Returns ``(ok, usage_error)``: ``ok`` is false when some rule was not converted;
    ``usage_error`` when the converters are not installed (the message names the extra)."""
    if fmt == "sigma":
        out.write(sigma(profile))
        return True, False
    target: Target = next(t for t in TARGETS if t == fmt)
    try:
        conversions = convert(target, profile=profile)
    except MissingExtraError as error:
        print(f"dcom-detect: error: {error}", file=err)
        return False, True
    ok = True
    several = len(conversions) > 1
    for index, c in enumerate(conversions):
        if c.note is not None:
            print(f"dcom-detect: {c.rule} ({c.title}): {c.note}", file=err)
        if c.query is None:
            ok = False
            continue
        comment = _COMMENT[target]
        if index > 0:
            out.write("\n")
        if several and comment is not None:
            out.write(comment.format(f"{c.rule}: {c.title} ({c.id})") + "\n")
        out.write(c.query.rstrip("\n") + "\n")
    return ok, False
