"""The class view's small charts: how the class did, at a glance.

In: a graded batch's Results and the test ids. Out: inline SVG text (matplotlib's SVG backend through a bare
``Figure``, no pyplot state, text kept as text), the same bytes for the same results:

* ``totals_chart``: how many submissions reached each band of total points;
* ``pass_rates_chart``: the share of the submissions that passed each test (full points), one bar per test.
"""

from __future__ import annotations

import io

BAR, EDGE, TEXT = "#4c72b0", "#2f4b7c", "#333333"
STYLE = {
    "svg.fonttype": "none",
    "svg.hashsalt": "unet-course",
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.edgecolor": TEXT,
    "axes.labelcolor": TEXT,
    "xtick.color": TEXT,
    "ytick.color": TEXT,
}


def totals_chart(results: list, bands: int = 10) -> str:
    """A histogram of the submissions' totals, in `bands` equal bands from 0 to the most points possible."""
    import matplotlib

    with matplotlib.rc_context(STYLE):
        return _totals(results, bands)


def pass_rates_chart(results: list, test_ids: list[str]) -> str:
    """A horizontal bar per test: the percentage of the submissions that earned its full points."""
    import matplotlib

    with matplotlib.rc_context(STYLE):
        return _pass_rates(results, test_ids)


def _totals(results, bands):
    import numpy as np

    top = max((result.max_total for result in results), default=0) or 1
    figure, axes = _figure(4.6, 2.6)
    edges = np.linspace(0, top, bands + 1)
    counts, _, _ = axes.hist([min(result.total, top) for result in results], bins=edges, color=BAR, edgecolor=EDGE)
    axes.set_xticks(edges)
    axes.set_xticklabels([f"{edge:g}" for edge in edges])
    axes.set_xlim(0, top)
    axes.yaxis.get_major_locator().set_params(integer=True)
    axes.set_xlabel(f"total points (of {top:g})")
    axes.set_ylabel("submissions")
    axes.set_title(f"Totals of {len(results)} submission(s)", loc="left")
    return _svg(figure)


def _pass_rates(results, test_ids):
    rates = [
        100
        * sum(result.scores.get(test, 0) >= result.max_scores.get(test, 0) > 0 for result in results)
        / max(len(results), 1)
        for test in test_ids
    ]
    figure, axes = _figure(4.6, 0.8 + 0.2 * len(test_ids))
    places = list(range(len(test_ids)))[::-1]  # the first test at the top
    axes.barh(places, rates, color=BAR, edgecolor=EDGE, height=0.7)
    for place, rate in zip(places, rates):  # the figure inside a long bar, else beside it
        inside = rate > 85
        axes.text(
            rate + (-1.5 if inside else 1.5),
            place,
            f"{rate:.0f}%",
            va="center",
            ha="right" if inside else "left",
            color="white" if inside else TEXT,
        )
    axes.set_yticks(places)
    axes.set_yticklabels(test_ids)
    axes.set_xlim(0, 100)
    axes.set_xlabel("submissions that passed (%)")
    axes.set_title("Each test's pass rate", loc="left")
    return _svg(figure)


def _figure(width: float, height: float):
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), layout="constrained")
    return figure, figure.add_subplot()


def _svg(figure) -> str:
    """The figure as an <svg> element to put inside a page (no XML declaration, no date)."""
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None})
    text = buffer.getvalue()
    return text[text.index("<svg") :]
