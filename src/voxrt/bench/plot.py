"""Charts for the benchmarks (matplotlib, imported only when a chart is drawn)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["plot_latency", "plot_stages", "plot_tts"]


def _figure(width: int) -> Any:
    """A ``width`` x 5 inch matplotlib figure drawn off-screen.

    Raises:
        RuntimeError: matplotlib is not installed.
    """
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise RuntimeError("the benchmark charts need matplotlib: pip install 'voxrt[bench]'") from exc
    figure = Figure(figsize=(width, 5), dpi=110, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def plot_latency(rows: list[dict[str, Any]], path: Path, limit_ms: float, title: str) -> None:
    """Draw asr_final_ms p50 / p95 and asr_partial_ms p50 against concurrent sessions, with the
    ``limit_ms`` line, as a PNG at ``path``. ``rows`` are ``voxrt bench stream``'s per-count stats.

    Raises:
        RuntimeError: matplotlib is not installed.
    """
    figure = _figure(width=8)
    axes = figure.add_subplot()
    sessions = [row["sessions"] for row in rows]
    series = (
        ("asr_final_ms", "p95", "final p95", "tab:red", "o-"),
        ("asr_final_ms", "p50", "final p50", "tab:blue", "o-"),
        ("asr_partial_ms", "p50", "partial p50", "tab:green", "s--"),
    )
    top = limit_ms
    for key, stat, label, color, style in series:
        points = [(n, row[key][stat]) for n, row in zip(sessions, rows, strict=True) if row[key][stat]]
        if points:
            xs, ys = zip(*points, strict=True)
            axes.plot(xs, ys, style, color=color, label=label, linewidth=2, markersize=6)
            top = max(top, *ys)
            for x, y in points:
                axes.annotate(f"{y:.0f}", (x, y), textcoords="offset points", xytext=(6, 4), fontsize=8)
    axes.axhline(limit_ms, color="gray", linestyle=":", linewidth=1.5, label=f"{limit_ms:g} ms target")
    axes.set_xscale("log", base=2)
    axes.set_xticks(sessions, [str(n) for n in sessions])
    axes.minorticks_off()
    if len(sessions) == 1:
        axes.set_xlim(sessions[0] / 1.5, sessions[0] * 1.5)
    else:
        axes.margins(x=0.08)  # room for the labels of the last point
    axes.set_ylim(0, top * 1.15)
    axes.set_xlabel("concurrent sessions")
    axes.set_ylabel("latency (ms)")
    axes.set_title(title, fontsize=10)
    axes.grid(True, alpha=0.3)
    axes.legend(loc="upper left", fontsize=9)
    figure.savefig(path)


def plot_tts(engines: dict[str, dict[str, Any]], path: Path) -> None:
    """``voxrt bench tts``'s chart at ``path``: time to first audio (p50 bars, p95 ticks) and
    real-time factor per engine, for each input warm and cold and for the concurrent run.

    Raises:
        RuntimeError: matplotlib is not installed.
    """
    figure = _figure(width=10)
    ttfb_axes, rtf_axes = figure.subplots(1, 2)
    groups: list[tuple[str, str, str | None]] = [
        *((f"{size} warm", "warm", size) for size in ("short", "medium", "long")),
        *((f"{size} cold", "cold", size) for size in ("short", "medium", "long")),
        ("medium, N at once", "concurrent", None),
    ]
    width = 0.8 / max(len(engines), 1)
    for index, (name, result) in enumerate(engines.items()):
        stats = [result[kind] if size is None else result[kind][size] for _, kind, size in groups]
        xs = [i + index * width for i in range(len(groups))]
        p50 = [s["tts_ttfb_ms"]["p50"] for s in stats]
        p95 = [s["tts_ttfb_ms"]["p95"] for s in stats]
        ttfb_axes.bar(xs, p50, width, label=name)
        ttfb_axes.scatter(xs, p95, marker="_", s=120, color="black")
        rtf_axes.bar(xs, [s["rtf"]["p50"] for s in stats], width, label=name)
    ticks = [i + width * (len(engines) - 1) / 2 for i in range(len(groups))]
    for axes, label in ((ttfb_axes, "time to first audio (ms), p50; p95 tick"), (rtf_axes, "RTF p50")):
        axes.set_xticks(ticks, [g[0] for g in groups], rotation=35, ha="right", fontsize=8)
        axes.set_ylabel(label)
        axes.set_yscale("log")
        axes.grid(True, axis="y", alpha=0.3)
        axes.legend(fontsize=8)
    rtf_axes.axhline(1.0, color="gray", linestyle=":", linewidth=1.5)
    figure.suptitle("voxrt bench tts", fontsize=10)
    figure.savefig(path)


def plot_stages(rows: list[dict[str, Any]], stages: tuple[str, ...], path: Path, title: str) -> None:
    """``voxrt bench agent``'s chart at ``path``: for each session count, the p50 of each stage of
    voice-to-voice latency stacked, with the measured voice_to_voice p50 and p95 as markers.

    Raises:
        RuntimeError: matplotlib is not installed.
    """
    figure = _figure(width=8)
    axes = figure.add_subplot()
    xs = list(range(len(rows)))
    bottoms = [0.0] * len(rows)
    for stage in stages:
        heights = [max(0.0, row["stages_ms"][stage]["p50"] or 0.0) for row in rows]
        axes.bar(xs, heights, bottom=bottoms, label=stage, width=0.6)
        bottoms = [b + h for b, h in zip(bottoms, heights, strict=True)]
    for stat, marker in (("p50", "k_"), ("p95", "r_")):
        values = [row["voice_to_voice_ms"][stat] or 0.0 for row in rows]
        axes.plot(xs, values, marker, markersize=28, markeredgewidth=2, label=f"voice_to_voice {stat}")
    axes.set_xticks(xs, [str(row["sessions"]) for row in rows])
    axes.set_xlabel("concurrent conversations")
    axes.set_ylabel("milliseconds")
    axes.set_title(title, fontsize=10)
    axes.grid(True, axis="y", alpha=0.3)
    axes.legend(loc="upper left", fontsize=8)
    figure.savefig(path)
