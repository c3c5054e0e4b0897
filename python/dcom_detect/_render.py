"""HTML cards for alerts in Jupyter (``Alert._repr_html_``).

Self-contained markup with inline styles (notebook front ends strip ``<style>`` blocks in
untrusted output); every value from the event is escaped.
"""

from __future__ import annotations

import html
import re
from typing import TYPE_CHECKING, Any

from .guide import alert_guide

if TYPE_CHECKING:
    from ._native import Alert

_BRANCH_TEXT = {
    "office_child": "COM host (MMC / Office) started a script host or LOLBin",
    "dcomcnfg": "DCOM configuration tool started",
    "dcom_command_line": "command line names DCOM with an -Exec… switch",
}

_CARD = (
    "font-family:system-ui,-apple-system,'Segoe UI',sans-serif;font-size:13px;"
    "border:1px solid #d0d7de;border-left:5px solid #cf222e;border-radius:6px;"
    "padding:10px 14px;margin:6px 0;max-width:980px;background:#fff;color:#1f2328"
)
_BADGE = (
    "display:inline-block;padding:1px 8px;margin-right:6px;border-radius:10px;"
    "font-size:12px;font-weight:600;background:{bg};color:{fg}"
)
_KEY = "padding:2px 12px 2px 0;color:#59636e;vertical-align:top;white-space:nowrap"
_CODE = "font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px;word-break:break-all"


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _badge(text: str, bg: str, fg: str = "#fff") -> str:
    return f'<span style="{_BADGE.format(bg=bg, fg=fg)}">{_e(text)}</span>'


def _get(document: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(document, dict):
            return None
        document = document.get(key)
    return document


def _row(key: str, value_html: str) -> str:
    return f'<tr><td style="{_KEY}">{_e(key)}</td><td>{value_html}</td></tr>'


_INLINE_CODE = re.compile(r"`([^`]+)`")
_GUIDE = "margin-top:8px;border-top:1px solid #d0d7de;padding-top:6px"
_GUIDE_BODY = "white-space:pre-wrap;line-height:1.45;max-height:480px;overflow:auto;margin-top:4px"


def guide_html(markdown: str) -> str:
    """A triage guide (Markdown) as escaped HTML: headings in bold, fenced blocks and inline
    code in monospace, everything else as written (``white-space: pre-wrap``)."""
    out: list[str] = []
    fenced = False
    for line in markdown.splitlines():
        if line.startswith("```"):
            out.append(f'<pre style="{_CODE};margin:2px 0;white-space:pre-wrap">' if not fenced else "</pre>")
            fenced = not fenced
            continue
        if fenced:
            out.append(_e(line) + "\n")
            continue
        text = _INLINE_CODE.sub(lambda m: f'<code style="{_CODE}">{m.group(1)}</code>', _e(line))
        if line.startswith("## "):
            out.append(f'<b style="font-size:13px">{text[3:]}</b>\n')
        elif line.startswith("# "):
            out.append(f'<b style="font-size:14px">{text[2:]}</b>\n')
        elif line == "---":
            out.append('<hr style="border:0;border-top:1px dashed #d0d7de">')
        else:
            out.append(text + "\n")
    if fenced:
        out.append("</pre>")
    return "".join(out)


def alert_html(alert: Alert) -> str:
    """The alert as an HTML card: what fired and why, where, on which host, by whom, and its
    triage guide (``docs/triage/``) in a collapsed ``<details>``."""
    document = alert.to_dict()
    rule = document.get("rule") or {}
    threat = document.get("threat") or {}
    process = document.get("process") or {}
    evidence = _get(document, "dcom_detect", "evidence") or {}
    severity = _get(document, "dcom_detect", "severity") or ""
    risk = _get(document, "event", "risk_score")

    badges = [_badge(f"{severity} · {risk:g}" if isinstance(risk, (int, float)) else severity, "#cf222e")]
    badges += [_badge(branch, "#0969da") for branch in alert.branches]
    technique = _get(threat, "technique", "subtechnique") or {}
    tactic = threat.get("tactic") or {}

    rows = []
    if alert.timestamp:
        rows.append(_row("time", _e(alert.timestamp)))
    if alert.host:
        rows.append(_row("host", f"<b>{_e(alert.host)}</b>"))
    if alert.user:
        rows.append(_row("user", _e(alert.user)))
    parent = process.get("parent")
    if isinstance(parent, dict) and parent:
        rows.append(_row("parent", f'<span style="{_CODE}">{_e(parent.get("executable") or parent.get("name"))}</span>'))
    if process:
        rows.append(_row("process", f'<span style="{_CODE}">{_e(process.get("executable") or process.get("name"))}</span>'))
        if process.get("command_line"):
            rows.append(_row("command line", f'<span style="{_CODE}">{_e(process.get("command_line"))}</span>'))
    for branch in alert.branches:
        fields = evidence.get(branch) or {}
        shown = "; ".join(f"{_e(field)} = <code>{_e(value)}</code>" for field, value in fields.items())
        rows.append(_row(branch, f"{_e(_BRANCH_TEXT.get(branch, ''))}<br>{shown}"))
    source = _e(alert.file or "(events)") + ", " + _e(alert.position)
    rows.append(_row("source", source + f" · schema {_e(_get(document, 'dcom_detect', 'schema'))}"))
    mitre = " → ".join(
        f'<a href="{_e(ref.get("reference"))}" target="_blank">{_e(ref.get("id"))} {_e(ref.get("name"))}</a>'
        for ref in (tactic, technique)
        if ref
    )
    if mitre:
        rows.append(_row("MITRE ATT&CK", mitre))

    return (
        f'<div style="{_CARD}">'
        f'<div style="margin-bottom:6px">{"".join(badges)}'
        f'<b style="font-size:14px">{_e(rule.get("name"))}</b></div>'
        f'<table style="border-collapse:collapse">{"".join(rows)}</table>'
        f'<details style="{_GUIDE}"><summary style="cursor:pointer;color:#0969da">'
        "Triage guide: investigation, false positives, response, hunting pivots</summary>"
        f'<div style="{_GUIDE_BODY}">{guide_html(alert_guide(alert))}</div></details>'
        "</div>"
    )
