"""``desim-iov trace repair FILE``: make a trace of a killed run readable by every HDF5 reader.

A trace is written in SWMR mode (DESIGN.md Sec. 5). When the writing process dies without
closing it (``kill -9``, a crash, a power cut), the HDF5 superblock keeps its *file consistency
flags* set ("open for writing, SWMR writer"): h5py in SWMR-read mode and :func:`open_trace`
still read it, but PyTables (``pandas.read_hdf``) and a plain ``h5py.File(path, "r")`` refuse it.
HDF5's own fix is the ``h5clear -s`` tool, which a pip install does not provide. This module
does what ``h5clear -s`` does: it clears the flags of a version 2/3 superblock and writes the
superblock's Jenkins lookup3 checksum again (HDF5 File Format Specification, Sec. II.A, "Version
2 and 3 Superblocks"). Nothing else in the file is touched; the trace stays marked incomplete
(its ``complete`` attribute is 0) with every row flushed before the crash.

The checksum is written by hand (no library computes HDF5's lookup3 variant); it is checked
on the superblock as found first, so a file whose stored checksum does not verify is refused,
never rewritten.
"""

from __future__ import annotations

import struct
from pathlib import Path

SIGNATURE = b"\x89HDF\r\n\x1a\n"
_MASK = 0xFFFFFFFF


class RepairError(ValueError):
    """A file this tool cannot (or need not) repair; ``str(e)`` is one line."""


def _rot(x: int, k: int) -> int:
    return ((x << k) | (x >> (32 - k))) & _MASK


def lookup3(data: bytes, initval: int = 0) -> int:
    """Bob Jenkins' lookup3 ``hashlittle`` (the checksum of HDF5 metadata, ``H5_checksum_lookup3``)."""
    n = len(data)
    a = b = c = (0xDEADBEEF + n + initval) & _MASK
    i = 0
    while n - i > 12:
        a = (a + data[i] + (data[i + 1] << 8) + (data[i + 2] << 16) + (data[i + 3] << 24)) & _MASK
        b = (b + data[i + 4] + (data[i + 5] << 8) + (data[i + 6] << 16) + (data[i + 7] << 24)) & _MASK
        c = (c + data[i + 8] + (data[i + 9] << 8) + (data[i + 10] << 16) + (data[i + 11] << 24)) & _MASK
        # mix(a, b, c)
        a = (a - c) & _MASK; a ^= _rot(c, 4); c = (c + b) & _MASK  # noqa: E702
        b = (b - a) & _MASK; b ^= _rot(a, 6); a = (a + c) & _MASK  # noqa: E702
        c = (c - b) & _MASK; c ^= _rot(b, 8); b = (b + a) & _MASK  # noqa: E702
        a = (a - c) & _MASK; a ^= _rot(c, 16); c = (c + b) & _MASK  # noqa: E702
        b = (b - a) & _MASK; b ^= _rot(a, 19); a = (a + c) & _MASK  # noqa: E702
        c = (c - b) & _MASK; c ^= _rot(b, 4); b = (b + a) & _MASK  # noqa: E702
        i += 12
    rest = data[i:]
    if not rest:
        return c
    tail = rest + b"\x00" * (12 - len(rest))
    words = struct.unpack("<3I", tail)
    # only the bytes present count: zero padding adds nothing, as in the byte-wise switch
    a = (a + words[0]) & _MASK
    b = (b + words[1]) & _MASK
    c = (c + words[2]) & _MASK
    # final(a, b, c)
    c ^= b; c = (c - _rot(b, 14)) & _MASK  # noqa: E702
    a ^= c; a = (a - _rot(c, 11)) & _MASK  # noqa: E702
    b ^= a; b = (b - _rot(a, 25)) & _MASK  # noqa: E702
    c ^= b; c = (c - _rot(b, 16)) & _MASK  # noqa: E702
    a ^= c; a = (a - _rot(c, 4)) & _MASK  # noqa: E702
    b ^= a; b = (b - _rot(a, 14)) & _MASK  # noqa: E702
    c ^= b; c = (c - _rot(b, 24)) & _MASK  # noqa: E702
    return c


def _superblock(f, path: Path) -> tuple[int, bytes]:
    """The offset and bytes (up to the checksum) of the file's v2/v3 superblock."""
    for offset in (0, 512, 1024, 2048, 4096, 8192):  # where HDF5 looks for the signature
        f.seek(offset)
        head = f.read(12)
        if head[:8] == SIGNATURE:
            break
    else:
        raise RepairError(f"{path}: not an HDF5 file (no superblock signature)")
    version, size_offsets = head[8], head[9]
    if version not in (2, 3):
        raise RepairError(f"{path}: superblock version {version} has no consistency flags to clear")
    body_len = 12 + 4 * size_offsets  # signature .. flags, then 4 addresses
    f.seek(offset)
    body = f.read(body_len)
    stored = f.read(4)
    if len(body) < body_len or len(stored) < 4:
        raise RepairError(f"{path}: truncated superblock")
    if struct.unpack("<I", stored)[0] != lookup3(body):
        raise RepairError(f"{path}: the superblock checksum does not verify; not touched")
    return offset, body


def repair_trace(path: str | Path) -> str:
    """Clear the consistency flags of a killed run's trace (see the module docstring); one line
    saying what was done. :class:`RepairError` (one line) on a file it cannot repair."""
    p = Path(path)
    try:
        f = p.open("r+b")
    except OSError as e:
        raise RepairError(f"{p}: cannot open for repair: {e.strerror or e}") from None
    with f:
        offset, body = _superblock(f, p)
        flags = body[11]
        if flags == 0:
            return f"{p}: nothing to repair (the file was closed)"
        fixed = body[:11] + b"\x00" + body[12:]
        f.seek(offset)
        f.write(fixed + struct.pack("<I", lookup3(fixed)))
        f.flush()
    return f"{p}: consistency flags 0x{flags:02x} cleared (the writer did not close the file); readable by pandas now"
