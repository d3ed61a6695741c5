"""One flat mapping of a trace's run totals, whatever its app: the what-if comparison of
`desim-iov replay` and the metrics of a sweep's ``results.parquet``."""

from __future__ import annotations

from typing import Any


def trace_totals(trace: Any) -> dict[str, Any]:
    """The totals of ``trace`` (a path or an open Trace): twin migration's summary totals
    (analysis/summary.py), or task offloading's with the outcome and status counts
    (analysis/offload_summary.py)."""
    from desim_iov.replay import trace_app
    from traces.reader import Trace, open_trace

    if not isinstance(trace, Trace):
        trace = open_trace(trace)
    if trace_app(trace) == "task_offloading":
        from analysis.offload_summary import flat_totals, summarize_offload

        return flat_totals(summarize_offload(trace))
    from analysis.summary import summarize

    return summarize(trace).total
