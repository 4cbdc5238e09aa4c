"""Drawing the daily activity: a unicode sparkline for the terminal, a PNG with matplotlib."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from syncd.analytics.kpis import DayCounts

BLOCKS = "▁▂▃▄▅▆▇█"
# (series, label, colour): ours in blues, theirs in oranges, same order as DayCounts.SERIES.
SERIES = (
    ("email_sent", "emails sent", "#1f77b4"),
    ("email_received", "emails received", "#ff7f0e"),
    ("meeting_sent", "meetings we organised", "#6baed6"),
    ("meeting_received", "meetings they organised", "#fdae6b"),
    ("call_made", "calls made", "#08519c"),
    ("call_received", "calls received", "#a63603"),
)


def sparkline(values: Sequence[float]) -> str:
    """One character per value; zero is a blank-looking baseline (a space would vanish)."""
    top = max(values, default=0)
    if top <= 0:
        return "·" * len(values)
    out = []
    for v in values:
        if v <= 0:
            out.append("·")
        else:
            out.append(BLOCKS[min(len(BLOCKS) - 1, int((v / top) * (len(BLOCKS) - 1) + 0.999))])
    return "".join(out)


def write_png(path: Path, days: Sequence[DayCounts], title: str, subtitle: str) -> None:
    """A stacked bar chart of the daily activity by type and direction. Raises OSError when the
    file cannot be written."""
    import matplotlib

    matplotlib.use("Agg")  # no display: files only
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, ax = plt.subplots(figsize=(11, 4.2), dpi=100)
    try:
        x = list(range(len(days)))
        bottom = [0] * len(days)
        handles: list[Any] = []
        for name, label, colour in SERIES:
            values = [getattr(d, name) for d in days]
            if not any(values):
                continue
            handles.append(ax.bar(x, values, bottom=bottom, color=colour, label=label,
                                  width=0.85))
            bottom = [b + v for b, v in zip(bottom, values, strict=True)]
        ax.set_title(f"{title}\n{subtitle}", fontsize=10, loc="left")
        ax.set_ylabel("activities per day")
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        step = max(1, len(days) // 12)
        ax.set_xticks(x[::step], [d.day.isoformat() for d in days[::step]])
        if handles:
            ax.set_ylim(0, max(bottom) * 1.3)  # head-room for the legend
            ax.legend(loc="upper left", fontsize=8, ncol=3, frameon=False)
        else:
            ax.text(0.5, 0.5, "no activity in this period", transform=ax.transAxes,
                    ha="center", va="center", color="grey")
        fig.autofmt_xdate()
        fig.tight_layout()
        fig.savefig(path, format="png")
    finally:
        plt.close(fig)
