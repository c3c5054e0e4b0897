"""The progress bar of ``Rule.scan(..., progress=True)`` (tqdm: a text bar in a terminal, a
widget in Jupyter when ipywidgets is installed)."""

from __future__ import annotations

from typing import Any


class Bar:
    """A tqdm bar counting bytes (files, streams) or records (iterables), with the number of
    alerts so far as a postfix. The scan calls :meth:`update_to` and :meth:`close`."""

    def __init__(self, total: int | None, unit: str, description: str) -> None:
        from tqdm.auto import tqdm

        options: dict[str, Any] = {"total": total, "desc": description, "dynamic_ncols": True}
        if unit == "B":
            options.update(unit="B", unit_scale=True, unit_divisor=1024)
        else:
            options.update(unit=f" {unit}", unit_scale=True)
        self._bar = tqdm(**options)
        self._alerts = -1

    def update_to(self, done: int, alerts: int) -> None:
        """Moves the bar to ``done`` units and shows ``alerts``."""
        if done > self._bar.n:
            self._bar.update(done - self._bar.n)
        if alerts != self._alerts:
            self._alerts = alerts
            self._bar.set_postfix_str(f"{alerts} alert{'s' if alerts != 1 else ''}", refresh=False)
        self._bar.refresh()

    def close(self) -> None:
        """Closes the bar (idempotent)."""
        self._bar.close()
