"""Triage guides: what to do with an alert (``docs/triage/``).

The guides are Markdown carried in the rules' metadata (``Rule.metadata["guide"]`` and
``["branch_guides"]`` for the seed rule, ``correlation_rules(profile)[i]["guide"]`` for the
stateful rules), embedded by core from ``docs/triage/*.md``; this module picks the right ones.
Each has four ``##`` sections: Investigation, False positives, Response, Hunting pivots.

>>> import dcom_detect
>>> alert = next(iter(dcom_detect.scan_records([{"event": {"category": "process", "type": "start"},
...     "process": {"name": "dcomcnfg.exe"}}])))
>>> [line for line in alert_guide(alert).splitlines() if line.startswith("# ")]  # doctest: +NORMALIZE_WHITESPACE
['# The seed rule: DCOM lateral movement by process start',
 '# Branch `dcomcnfg`: the DCOM configuration tool started']
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from ._native import correlation_rules, rule_metadata

if TYPE_CHECKING:
    from ._native import Alert

__all__ = ["alert_guide", "rule_guides", "SECTIONS"]

SECTIONS: tuple[str, ...] = ("Investigation", "False positives", "Response", "Hunting pivots")
"""The ``##`` headings of every guide, in order."""

_RULE = "\n\n---\n\n"


_STATEFUL: tuple[Literal["elastic", "extended"], ...] = ("elastic", "extended")


_GUIDES: dict[str, str] = {}


def _stateful() -> dict[str, str]:
    if not _GUIDES:
        _GUIDES.update((info["rule"], info["guide"]) for profile in _STATEFUL for info in correlation_rules(profile))
    return _GUIDES


def alert_guide(alert: Alert) -> str:
    """The guide for one alert (Markdown): a stateful rule's alert gets its rule's guide
    (``alert.correlation``: D2, D2L, D3, mmc20, shellwindows, hta); a seed-rule alert gets the
    rule's common guide followed by the guide of each branch that fired, in rule order.
    O(guides' length); the stateful guides are read once per process."""
    if alert.correlation is not None:
        return _stateful()[alert.correlation]
    meta = rule_metadata()
    return _RULE.join([meta["guide"], *(meta["branch_guides"][branch] for branch in alert.branches)])


def rule_guides(profile: Literal["seed", "elastic", "extended"] = "seed") -> str:
    """Every guide of a profile as one Markdown text (what ``dcom-detect rule --guide``
    prints): the seed rule's, its three branches', then each of the profile's stateful rules'.

    Raises:
        ValueError: an unknown profile."""
    meta = rule_metadata()
    guides = [meta["guide"], *meta["branch_guides"].values()]
    guides += [info["guide"] for info in correlation_rules(profile)]
    return _RULE.join(guides)
