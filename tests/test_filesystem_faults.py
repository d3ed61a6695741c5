"""File-system faults give one line and no file that looks complete (issue 14 item 4): a file-
size limit hit mid-run, a full device, an output that cannot exist."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _cli(args, tmp_path, fsize: int | None = None):
    def limit():
        if fsize is not None:
            import resource
            import signal

            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # write() fails with EFBIG instead
            resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "desim_iov.cli", *args], cwd=tmp_path, env=env,
                          preexec_fn=limit, capture_output=True, text=True, timeout=300)


@pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_FSIZE semantics")
def test_a_file_size_limit_mid_run_is_one_line_and_the_trace_is_not_complete(tmp_path):
    out = tmp_path / "t.h5"
    r = _cli(["run", "--duration", "600", "--out", str(out), "--quiet"], tmp_path, fsize=300_000)
    assert r.returncode == 2, r.stderr
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert lines == [f"desim-iov: error: {out}: writing the trace failed (File too large); the file is incomplete "
                     "(complete = 0)"], r.stderr
    from traces.reader import TraceError, open_trace

    try:
        assert not open_trace(out).complete
    except TraceError:  # unreadable is acceptable; complete-looking is not
        pass


@pytest.mark.parametrize(("args", "expect"), [
    (["run", "--duration", "60", "--out", "/dev/full", "--quiet"],
     "desim-iov: error: /dev/full: cannot create the trace (No space left on device)"),
    (["report", "TRACE", "--out", "/dev/full"], "desim-iov: error: /dev/full: File exists"),
    (["train", "--agent", "dm-mappo", "--updates", "1", "--out", "/proc/nowhere", "--quiet"],
     "desim-iov: error: /proc/nowhere: No such file or directory"),
])
def test_unwritable_outputs_are_one_line(args, expect, tmp_path):
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full")
    if "TRACE" in args:
        trace = tmp_path / "t.h5"
        assert _cli(["run", "--duration", "30", "--out", str(trace), "--quiet"], tmp_path).returncode == 0
        args = [str(trace) if a == "TRACE" else a for a in args]
    r = _cli(args, tmp_path)
    assert r.returncode == 2 and r.stderr.strip().splitlines()[-1] == expect, r.stderr
    assert "Traceback" not in r.stderr
