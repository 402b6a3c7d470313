"""The comparison's charts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["plot_compare"]


def plot_compare(summary: dict[str, dict[str, Any]], directory: Path, limit_ms: float) -> list[Path]:
    """The comparison's charts in ``directory``: ``latency-cdf.png`` (asr_final_ms at one
    session, every repeat pooled, per system) and ``latency-sweep.png`` (final p50 / p95 against
    concurrent sessions, per system). Returns the paths written.

    Raises:
        RuntimeError: matplotlib is not installed.
    """
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise RuntimeError("the benchmark charts need matplotlib: pip install 'voxrt[bench]'") from exc
    colors = ("tab:blue", "tab:orange", "tab:green", "tab:red")
    cdf = Figure(figsize=(8, 5), dpi=110, layout="constrained")
    FigureCanvasAgg(cdf)
    axes = cdf.add_subplot()
    for color, (name, figures) in zip(colors, summary.items(), strict=False):
        first = figures["sweep"][0]
        values = [v for run in first["repeats"] for v in run["final_ms"]]
        done = sorted(v for v in values if v is not None)
        if done:
            ys = [0.0] + [(i + 1) / len(values) for i in range(len(done))]
            missing = len(values) - len(done)
            label = f"{name} (p50 {figures['final_p50']} ms" + (
                f", {missing} never final)" if missing else ")"
            )
            axes.step([done[0], *done], ys, where="post", color=color, linewidth=2, label=label)
    axes.axvline(limit_ms, color="gray", linestyle=":", linewidth=1.5, label=f"{limit_ms:g} ms")
    axes.set_xlabel("end of speech → final text (asr_final_ms), one session")
    axes.set_ylabel("fraction of utterances")
    axes.set_ylim(0, 1.02)
    axes.set_xlim(left=0)
    axes.grid(True, alpha=0.3)
    axes.legend(loc="lower right", fontsize=9)
    axes.set_title("voxrt beside its peers: latency CDF (same model, audio and machine)", fontsize=10)
    sweep = Figure(figsize=(8, 5), dpi=110, layout="constrained")
    FigureCanvasAgg(sweep)
    axes = sweep.add_subplot()
    counts: set[int] = set()
    for color, (name, figures) in zip(colors, summary.items(), strict=False):
        for key, style, stat in (("final_p95", "o-", "p95"), ("final_p50", "s--", "p50")):
            points = [(r["sessions"], r[key]) for r in figures["sweep"] if r[key] is not None]
            if points:
                sessions, latencies = zip(*points, strict=True)
                counts.update(sessions)
                axes.plot(
                    sessions,
                    latencies,
                    style,
                    color=color,
                    label=f"{name} final {stat}",
                    linewidth=2,
                    markersize=5,
                )
    axes.axhline(limit_ms, color="gray", linestyle=":", linewidth=1.5, label=f"{limit_ms:g} ms target")
    if counts:
        axes.set_xticks(sorted(counts))
    axes.set_xlabel("concurrent streams")
    axes.set_ylabel("asr_final_ms")
    axes.set_ylim(bottom=0)
    axes.grid(True, alpha=0.3)
    axes.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8)
    axes.set_title("voxrt beside its peers: final latency against concurrent streams", fontsize=10)
    paths = [directory / "latency-cdf.png", directory / "latency-sweep.png"]
    cdf.savefig(paths[0])
    sweep.savefig(paths[1])
    return paths
