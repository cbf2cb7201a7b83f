"""Compiled kernels that turn frames into photon events (internal; imports numba).

Imported lazily by :mod:`.compress` and :mod:`.hdf5` so that importing the
analysis package stays cheap; compiled code is cached on disk (``cache=True``).
Every kernel releases the GIL (``nogil=True``): callers run them in their own
threads, sized by :func:`~jupyterlab_raydata.analysis.threads.thread_budget`.

Events of a frame are its pixels with a count: flat (row-major) pixel indices,
ascending, and their values, appended to output arrays whose capacity the
caller provides (see :func:`dense_events`).
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(nogil=True, cache=True)
def _element(flat, g, frame_start, thr, good, has_good, idx, val, e):
    v = flat[g]
    p = g - frame_start
    keep = v > thr
    if has_good:
        keep = keep and good[p]
    idx[e] = p
    val[e] = v
    return e + keep


@njit(nogil=True, cache=True)
def dense_events(words, flat, per_word, n_pix, t_first, thr, good, has_good, indptr, idx, val, e):
    """Events of dense frames, from frame ``t_first`` on, until the output is nearly full.

    Parameters
    ----------
    words : uint64 array
        ``flat`` (or its longest prefix a whole number of words long) viewed as
        64-bit words: a word that is zero holds no photon, so most of a sparse
        frame is skipped 4 (uint16) or 2 (uint32) pixels at a time.
    flat : array
        The frames, flattened.
    per_word : int
        Pixels per word (``8 // itemsize``).
    n_pix : int
        Pixels per frame.
    t_first : int
        First frame to do (earlier ones were done by a previous call).
    thr : float
        Keep values ``> thr`` (``thr >= 0``: zero pixels are never events).
    good, has_good
        Good-pixel mask (flat) and whether to apply it.
    indptr : int64 array, ``(n_frames + 1,)``
        Frame ``t``'s events go to ``indptr[t]:indptr[t + 1]``.
    idx, val : arrays
        Output pixel indices and values; a frame starts only if a whole frame
        still fits, so ``idx.size - e >= n_pix`` is checked per frame.
    e : int
        Events already in the output.

    Returns
    -------
    (int, int)
        Frames done so far and events written so far; fewer than all frames
        means the output is full: enlarge it and call again from there.
    """
    n_frames = flat.size // n_pix
    lanes = words.size * per_word
    for t in range(t_first, n_frames):
        if idx.size - e < n_pix:
            return t, e
        indptr[t] = e
        start = t * n_pix
        stop = start + n_pix
        g = start
        while g < stop and (g % per_word or g >= lanes):
            e = _element(flat, g, start, thr, good, has_good, idx, val, e)
            g += 1
        w_stop = min(stop, lanes) // per_word
        for w in range(g // per_word, w_stop):
            if words[w] != 0:
                base = w * per_word
                for j in range(per_word):
                    e = _element(flat, base + j, start, thr, good, has_good, idx, val, e)
        g = max(g, w_stop * per_word)
        while g < stop:
            e = _element(flat, g, start, thr, good, has_good, idx, val, e)
            g += 1
    indptr[n_frames] = e
    return n_frames, e


@njit(nogil=True, cache=True)
def _read_be32(buf, pos):
    return (
        (np.int64(buf[pos]) << 24)
        | (np.int64(buf[pos + 1]) << 16)
        | (np.int64(buf[pos + 2]) << 8)
        | buf[pos + 3]
    )


@njit(nogil=True, cache=True)
def _emit(g, value, n_pix, frame, frame_end, indptr, idx, val, e):
    """Append the event at chunk element ``g``; returns the updated (frame, frame_end, e)."""
    while g >= frame_end:
        frame += 1
        indptr[frame] = e
        frame_end += n_pix
    idx[e] = g - (frame_end - n_pix)
    val[e] = value
    return frame, frame_end, e + 1


# Index of the lowest set bit of a byte (entry 0 unused).
_LOWEST_BIT = np.array([(b & -b).bit_length() - 1 if b else 0 for b in range(256)], np.int64)


@njit(nogil=True, cache=True)
def _scan_planes(planes, n, elem_size, mask, work, g0, n_pix, frame, frame_end, indptr, idx, val, e):
    """Events of ``n`` bit-shuffled elements without unshuffling them.

    A bitshuffle block of ``n`` elements holds ``8 * elem_size`` bit planes of
    ``n / 8`` bytes: bit ``r`` of element ``i`` is bit ``i % 8`` of byte
    ``r * n / 8 + i / 8`` (little-endian values). The OR of all planes flags the
    non-zero elements; their values are put together from the planes that have
    any bit set in the block (photon counts are small, so few). The non-zero
    bytes of the OR are listed without branching (a branch per byte would be
    mispredicted at every photon). ``mask`` (uint8) and ``work`` (int64) are
    scratch space of at least ``n / 8`` and ``n / 8 + 8 * elem_size`` entries.
    """
    row = n // 8
    mask[:row] = 0
    active = work[row : row + 8 * elem_size]
    n_active = 0
    for r in range(8 * elem_size):
        plane = planes[r * row : (r + 1) * row]
        seen = np.uint8(0)
        for j in range(row):
            mask[j] |= plane[j]
            seen |= plane[j]
        if seen:
            active[n_active] = r
            n_active += 1
    k = 0
    for j in range(row):
        work[k] = j
        k += mask[j] != 0
    frame_start = frame_end - n_pix
    for q in range(k):
        j = work[q]
        m = np.int64(mask[j])
        while m:
            bit = _LOWEST_BIT[m]
            m &= m - 1
            value = np.uint64(0)
            for a in range(n_active):
                r = active[a]
                value |= np.uint64((planes[r * row + j] >> bit) & 1) << np.uint64(r)
            g = g0 + 8 * j + bit
            if g >= frame_end:
                frame, frame_end, e = _emit(g, value, n_pix, frame, frame_end, indptr, idx, val, e)
                frame_start = frame_end - n_pix
            else:
                idx[e] = g - frame_start
                val[e] = value
                e += 1
    return frame, frame_end, e


@njit(nogil=True, cache=True)
def _leftover(buf, pos, count, elem_size, g0, n_pix, frame, frame_end, indptr, idx, val, e):
    """The last ``count`` (< 8) elements, which bitshuffle stores as they are."""
    for i in range(count):
        value = 0
        for b in range(elem_size):
            value |= np.int64(buf[pos + i * elem_size + b]) << (8 * b)
        if value != 0:
            frame, frame_end, e = _emit(g0 + i, value, n_pix, frame, frame_end, indptr, idx, val, e)
    return frame, frame_end, e


@njit(nogil=True, cache=True)
def _bitshuffle_header(buf, elem_size):
    """``(elements, elements per block)`` from a bitshuffle chunk's header."""
    total = 0
    for b in range(8):
        total = (total << 8) | np.int64(buf[b])
    return total // elem_size, _read_be32(buf, 8) // elem_size


@njit(nogil=True, cache=True)
def _bitshuffle_blocks(n_elems, block):
    """Elements of every compressed block: full blocks, then the rest rounded down to 8."""
    last = n_elems % block
    last -= last % 8
    sizes = np.full(n_elems // block + (1 if last else 0), block, np.int64)
    if last:
        sizes[-1] = last
    return sizes


@njit(nogil=True, cache=True)
def bitshuffle_lz4_decode(lz4, buf, elem_size, scratch):
    """LZ4-decompress the blocks of a bitshuffle/LZ4 chunk into ``scratch``, still bit-shuffled.

    ``lz4`` is ``LZ4_decompress_safe`` of the hdf5plugin filter library. Chunk
    layout: total bytes (uint64, big-endian), block bytes (uint32, big-endian),
    then per block its compressed size (uint32, big-endian) and data; blocks hold a
    multiple of 8 elements and the last ``< 8`` elements follow as they are.
    Returns the position of those in ``buf``, or -1 if the data are corrupt.
    """
    n_elems, block = _bitshuffle_header(buf, elem_size)
    pos, out = 12, 0
    for n in _bitshuffle_blocks(n_elems, block):
        size = _read_be32(buf, pos)
        if pos + 4 + size > buf.size or (out + n) * elem_size > scratch.size:
            return -1
        got = lz4(
            buf.ctypes.data + pos + 4,
            scratch.ctypes.data + out * elem_size,
            np.int32(size),
            np.int32(n * elem_size),
        )
        if got != n * elem_size:
            return -1
        pos += 4 + size
        out += n
    return pos


@njit(nogil=True, cache=True)
def bitshuffle_zstd_decode(zstd, buf, elem_size, scratch):
    """As :func:`bitshuffle_lz4_decode` for bitshuffle/Zstd chunks (``zstd`` is ``ZSTD_decompress``)."""
    n_elems, block = _bitshuffle_header(buf, elem_size)
    pos, out = 12, 0
    for n in _bitshuffle_blocks(n_elems, block):
        size = _read_be32(buf, pos)
        if pos + 4 + size > buf.size or (out + n) * elem_size > scratch.size:
            return -1
        got = zstd(scratch.ctypes.data + out * elem_size, n * elem_size, buf.ctypes.data + pos + 4, size)
        if got != n * elem_size:
            return -1
        pos += 4 + size
        out += n
    return pos


@njit(nogil=True, cache=True)
def bitshuffled_events(buf, rest_pos, scratch, elem_size, n_pix, indptr, idx, val):
    """Events of a chunk decoded by a ``bitshuffle_*_decode`` kernel, never unshuffled.

    Unshuffling is the costliest part of decoding; the non-zero elements are
    found from the bit planes instead (see :func:`_scan_planes`). Values are the
    elements' bit patterns as unsigned integers of ``elem_size`` bytes (view them
    as the dataset's dtype). Returns the number of events.
    """
    n_elems, block = _bitshuffle_header(buf, elem_size)
    frame, frame_end, e = 0, n_pix, 0
    indptr[0] = 0
    g = 0
    mask = np.empty(block // 8, np.uint8)
    work = np.empty(block // 8 + 8 * elem_size + 8, np.int64)
    for n in _bitshuffle_blocks(n_elems, block):
        planes = scratch[g * elem_size : (g + n) * elem_size]
        frame, frame_end, e = _scan_planes(
            planes, n, elem_size, mask, work, g, n_pix, frame, frame_end, indptr, idx, val, e
        )
        g += n
    frame, frame_end, e = _leftover(
        buf, rest_pos, n_elems - g, elem_size, g, n_pix, frame, frame_end, indptr, idx, val, e
    )
    for t in range(frame + 1, indptr.size):
        indptr[t] = e
    return e
