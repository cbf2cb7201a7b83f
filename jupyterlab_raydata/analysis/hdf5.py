"""Frame series in HDF5 files (Eiger data), read chunk by chunk and decoded in parallel.

Eiger detectors write frames into chunked HDF5 datasets, one frame per chunk,
compressed with the bitshuffle filter and LZ4 (or Zstd). Read through h5py, one
thread decompresses frame after frame (~600 frames/s for a 1M-pixel Eiger on a
server core), slower than the detector acquires. :class:`HDF5Frames` instead
reads each chunk's stored bytes (``dataset.id.read_direct_chunk``, cheap) and
decodes chunks in parallel threads with the codecs of the ``hdf5plugin``
package's filter libraries (called through ctypes, which releases the GIL):

* :meth:`HDF5Frames.iter_frame_chunks` gives dense frames, as any frame source;
* :meth:`HDF5Frames.iter_event_chunks` gives photon events directly. For
  bitshuffle chunks it skips the filter's unshuffle pass, the costliest part of
  decoding: blocks are only LZ4/Zstd-decompressed, and the pixels with counts are
  found from their bit planes (see :mod:`._extract`).

Supported filter pipelines: bitshuffle (none, LZ4 or Zstd), Zstd, deflate, or no
filter, on chunks holding whole frames. Anything else (other filters, chunks that
cut frames, virtual or external datasets) is read through h5py, one slab of
frames at a time, and turned into events in parallel just the same.

Functions taking frames use this automatically for an ``h5py.Dataset``, so
``compress_frames(h5file["entry/data/data"])`` reads in parallel.
"""

from __future__ import annotations

import ctypes
import functools
import sys
import threading
import zlib
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .compress import EVENT_CHUNK_FRAMES, CompressedFrames, dense_events
from .masks import check_shape
from .threads import thread_budget

__all__ = ["HDF5Frames", "is_h5py_dataset"]

BITSHUFFLE_ID = 32008
ZSTD_ID = 32015
DEFLATE_ID = 1
# Bitshuffle's compression codes (its 5th filter option).
_BSHUF_NONE, _BSHUF_LZ4, _BSHUF_ZSTD = 0, 2, 3


def is_h5py_dataset(obj) -> bool:
    """Whether ``obj`` is an ``h5py.Dataset`` (without importing h5py)."""
    return type(obj).__module__.startswith("h5py") and hasattr(obj, "id") and hasattr(obj, "chunks")


@functools.cache
def _libraries():
    """The hdf5plugin filter libraries' decoders, as ctypes functions (``None`` where missing)."""
    import hdf5plugin

    found = hdf5plugin.get_config().registered_filters
    codecs = {}
    if "bshuf" in found:
        lib = ctypes.CDLL(found["bshuf"])
        size_t, void_p = ctypes.c_size_t, ctypes.c_void_p
        for name in ("bshuf_decompress_lz4", "bshuf_decompress_zstd", "bshuf_bitunshuffle"):
            fn = getattr(lib, name, None)
            if fn is not None:
                fn.restype = ctypes.c_int64
                fn.argtypes = [void_p, void_p, size_t, size_t, size_t]
            codecs[name] = fn
        lz4 = getattr(lib, "LZ4_decompress_safe", None)
        if lz4 is not None:
            lz4.restype = ctypes.c_int
            lz4.argtypes = [void_p, void_p, ctypes.c_int, ctypes.c_int]
        codecs["lz4"] = lz4
        # bitshuffle's Zstd blocks: the Zstd library linked into the same filter.
        codecs["bshuf_zstd_block"] = _zstd_function(lib)
    if "zstd" in found:
        codecs["zstd"] = _zstd_function(ctypes.CDLL(found["zstd"]))
    return codecs


def _zstd_function(lib):
    fn = getattr(lib, "ZSTD_decompress", None)
    if fn is not None:
        fn.restype = ctypes.c_size_t
        fn.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p, ctypes.c_size_t]
    return fn


@dataclass(frozen=True)
class _Codec:
    """How a dataset's chunks are decoded: ``kind`` and, for bitshuffle, its options."""

    kind: str  # "raw", "deflate", "zstd", "bitshuffle-lz4", "bitshuffle-zstd", "bitshuffle"
    block: int = 0  # bitshuffle block size in elements (0 = the library's default)


def _codec(dset) -> _Codec | None:
    """The fast decoder for ``dset``, or ``None`` to read it through h5py."""
    import h5py

    if dset.ndim != 3 or dset.is_virtual or dset.external or dset.chunks is None:
        return None
    if tuple(dset.chunks[1:]) != tuple(dset.shape[1:]) or dset.dtype.kind not in "uif":
        return None
    plist = dset.id.get_create_plist()
    if plist.get_layout() != h5py.h5d.CHUNKED:
        return None
    filters = [plist.get_filter(i) for i in range(plist.get_nfilters())]
    libs = _libraries()
    if not filters:
        return _Codec("raw")
    if len(filters) != 1:
        return None
    code, _flags, options, _name = filters[0]
    if code == DEFLATE_ID:
        return _Codec("deflate")
    if code == ZSTD_ID and libs.get("zstd") is not None:
        return _Codec("zstd")
    if code == BITSHUFFLE_ID and len(options) >= 3 and options[2] == dset.dtype.itemsize:
        compression = options[4] if len(options) > 4 else _BSHUF_NONE
        block = options[3] if len(options) > 3 else 0
        if compression == _BSHUF_LZ4 and libs.get("lz4") is not None:
            return _Codec("bitshuffle-lz4")
        if compression == _BSHUF_ZSTD and libs.get("bshuf_zstd_block") is not None:
            return _Codec("bitshuffle-zstd")
        if compression == _BSHUF_NONE and libs.get("bshuf_bitunshuffle") is not None:
            return _Codec("bitshuffle", block)
    return None


def _check_frames(dataset) -> None:
    if not hasattr(dataset, "ndim") or dataset.ndim != 3:
        raise ValueError(f"frames must be a (T, H, W) dataset, got {getattr(dataset, 'shape', dataset)}")


class HDF5Frames:
    """A ``(T, H, W)`` HDF5 dataset of frames, decoded in parallel.

    Parameters
    ----------
    source : h5py.Dataset, str or Path
        An open dataset, or an HDF5 file (opened read-only, closed by
        :meth:`close` or on leaving a ``with`` block).
    dataset : str, optional
        Dataset path in the file when ``source`` is a path (default
        ``entry/data/data``, where Eiger master files link the frames).
    workers : int, optional
        Decoding threads; default
        :func:`~jupyterlab_raydata.analysis.threads.thread_budget`.

    Examples
    --------
    >>> frames = HDF5Frames("scan_master.h5")  # doctest: +SKIP
    >>> compressed, stats = compress_frames(frames)  # doctest: +SKIP
    """

    def __init__(self, source, dataset: str | None = None, *, workers: int | None = None):
        import h5py
        import hdf5plugin  # noqa: F401  (registers the filters h5py itself needs)

        self._file = None
        if isinstance(source, str | Path):
            # As tiled opens them: HDF5 refuses to open one file twice in a process with different
            # SWMR flags, and a writer may still be appending to it.
            self._file = h5py.File(source, "r", swmr=True)
            try:
                source = self._file[dataset or "entry/data/data"]
                _check_frames(source)
            except BaseException:
                self.close()
                raise
        elif not is_h5py_dataset(source):
            raise TypeError(f"expected an h5py.Dataset or a file path, got {type(source).__name__}")
        else:
            _check_frames(source)
        self.dataset = source
        self.workers = workers
        self.codec = _codec(source)

    def __enter__(self) -> HDF5Frames:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Close the file if this object opened it."""
        if self._file is not None:
            self._file.close()
            self._file = None

    def __len__(self) -> int:
        return self.dataset.shape[0]

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(T, H, W)``."""
        return tuple(self.dataset.shape)

    @property
    def dtype(self) -> np.dtype:
        """Dtype of the counts."""
        return self.dataset.dtype

    def __getitem__(self, index):
        return self.dataset[index]

    # -- reading ---------------------------------------------------------------------

    @property
    def _chunk_frames(self) -> int:
        return self.dataset.chunks[0] if self.codec is not None else 1

    def _threads(self) -> int:
        return max(1, self.workers or thread_budget())

    def _pool(self) -> ThreadPoolExecutor:
        return ThreadPoolExecutor(self._threads())

    def _decoded(self, pool, t0: int, t1: int, decode):
        """Apply ``decode(raw_bytes, first_frame, n_frames, kind)`` to every chunk of frames ``[t0, t1)``.

        Stored bytes are read here, in order, and decoded in ``pool``; results come
        back in order, with a bounded number of chunks in flight.
        """
        c = self._chunk_frames
        pending = deque()
        limit = 4 * self._threads()
        for k in range(t0 // c, (t1 - 1) // c + 1):
            first = k * c
            count = min(c, len(self) - first)
            _mask, raw = self.dataset.id.read_direct_chunk((first, 0, 0))
            # A filter skipped for this chunk (bit set in the mask) left it as written.
            kind = self.codec.kind if not _mask else "raw"
            pending.append((first, count, pool.submit(decode, raw, first, count, kind)))
            while len(pending) > limit:
                yield _result(pending.popleft())
        while pending:
            yield _result(pending.popleft())

    def _dense_chunk(self, raw: bytes, kind: str, out: np.ndarray | None = None) -> np.ndarray:
        """Decode one chunk into ``(chunk frames, H, W)`` (the last chunk may be partly past the end).

        ``out``, if given, receives the frames (C-contiguous, the chunk's shape).
        """
        c = self.dataset.chunks[0]
        shape = (c, *self.dataset.shape[1:])
        dtype = self.dataset.dtype
        n_elems = int(np.prod(shape))
        if kind in ("raw", "deflate"):
            data = raw if kind == "raw" else zlib.decompress(raw)
            frames = np.frombuffer(data, dtype, n_elems).reshape(shape)
            if out is None:
                return frames
            out[...] = frames
            return out
        out = np.empty(shape, dtype) if out is None else out
        libs = _libraries()
        src = np.frombuffer(raw, np.uint8)
        if kind == "zstd":
            got = libs["zstd"](out.ctypes.data, out.nbytes, src.ctypes.data, src.size)
            ok = got == out.nbytes
        elif kind == "bitshuffle":
            got = libs["bshuf_bitunshuffle"](
                src.ctypes.data, out.ctypes.data, n_elems, dtype.itemsize, self.codec.block
            )
            ok = got >= 0
        else:
            fn = libs["bshuf_decompress_lz4" if kind == "bitshuffle-lz4" else "bshuf_decompress_zstd"]
            block = int.from_bytes(raw[8:12], "big") // dtype.itemsize
            ok = fn(src.ctypes.data + 12, out.ctypes.data, n_elems, dtype.itemsize, block) >= 0
        if not ok:
            raise OSError(f"corrupt chunk in {self.dataset.name} ({kind})")
        return out

    def _frame_range(self, start: int, stop: int | None) -> tuple[int, int]:
        stop = len(self) if stop is None else min(stop, len(self))
        return start, stop

    def iter_frame_chunks(self, chunk_size: int | None = None, start: int = 0, stop: int | None = None):
        """Dense chunks ``(t0, (c, H, W))``, as :func:`~jupyterlab_raydata.analysis.frames.iter_chunks`."""
        start, stop = self._frame_range(start, stop)
        from .frames import DEFAULT_CHUNK_BYTES

        frame_bytes = int(np.prod(self.dataset.shape[1:])) * self.dataset.dtype.itemsize
        size = chunk_size or max(1, DEFAULT_CHUNK_BYTES // max(frame_bytes, 1))
        if self.codec is None:
            for t0 in range(start, stop, size):
                yield t0, self.dataset[t0 : min(t0 + size, stop)]
            return
        c = self.dataset.chunks[0]
        frame_shape = self.dataset.shape[1:]
        recycled = _Recycled()
        with self._pool() as pool:
            for t0 in range(start, stop, size):
                t1 = min(t0 + size, stop)
                n = (t1 - t0) * frame_shape[0] * frame_shape[1]
                out = recycled.take(n, self.dataset.dtype).reshape(t1 - t0, *frame_shape)

                def decode(raw, first, count, kind, out=out, t0=t0, t1=t1):
                    # A chunk inside the range is decoded in place; others through a copy.
                    if first >= t0 and first + c <= t1:
                        return self._dense_chunk(raw, kind, out[first - t0 : first - t0 + c])
                    frames = self._dense_chunk(raw, kind)
                    a, b = max(first, t0), min(first + count, t1)
                    out[a - t0 : b - t0] = frames[a - first : b - first]
                    return None

                for _ in self._decoded(pool, t0, t1, decode):
                    pass
                yield t0, out

    def iter_event_chunks(
        self,
        chunk_size: int | None = None,
        start: int = 0,
        stop: int | None = None,
        *,
        mask=None,
        threshold: float = 0,
    ):
        """Photon events of consecutive frames, ``(t0, CompressedFrames)`` per chunk of frames.

        Parameters
        ----------
        chunk_size : int, optional
            Frames per yielded piece (default
            :data:`~jupyterlab_raydata.analysis.compress.EVENT_CHUNK_FRAMES`).
        start, stop : int, optional
            Frame range.
        mask : array_like of bool, optional
            True = good pixel; masked pixels are dropped.
        threshold : float
            Keep counts ``> threshold``.
        """
        start, stop = self._frame_range(start, stop)
        size = chunk_size or EVENT_CHUNK_FRAMES
        frame_shape = tuple(self.dataset.shape[1:])
        good = None if mask is None else check_shape(mask, frame_shape).ravel()
        if self.codec is None:
            with self._pool() as pool:
                for t0 in range(start, stop, size):
                    dense = self.dataset[t0 : min(t0 + size, stop)]
                    yield (
                        t0,
                        dense_events(
                            dense, good=good, threshold=threshold, pool=pool, threads=self._threads()
                        ),
                    )
            return
        if threshold < 0:
            raise ValueError(f"threshold must be >= 0, got {threshold}")
        decode = functools.partial(self._event_chunk, good=good, threshold=threshold)
        recycled = {}  # by dtype: indices and values
        with self._pool() as pool:
            for t0 in range(start, stop, size):
                t1 = min(t0 + size, stop)
                pieces = []
                for first, count, piece in self._decoded(pool, t0, t1, decode):
                    a, b = max(first, t0), min(first + count, t1)
                    pieces.append(piece.select(a - first, b - first))

                def take(n, dtype, recycled=recycled):
                    return recycled.setdefault(np.dtype(dtype), _Recycled()).take(n, dtype)

                yield t0, CompressedFrames.concatenate(pieces, frame_shape, take=take)

    def _event_chunk(
        self, raw: bytes, first: int, count: int, kind: str, *, good, threshold
    ) -> CompressedFrames:
        """Events of the first ``count`` frames of one chunk (runs in a pool thread)."""
        frame_shape = tuple(self.dataset.shape[1:])
        if kind not in ("bitshuffle-lz4", "bitshuffle-zstd"):
            dense = self._dense_chunk(raw, kind)[:count]
            return dense_events(dense, good=good, threshold=threshold)
        from . import _extract

        dtype = self.dataset.dtype
        c = self.dataset.chunks[0]
        n_pix = frame_shape[0] * frame_shape[1]
        src = np.frombuffer(raw, np.uint8)
        scratch, idx, bits = _buffers(c * n_pix, dtype.itemsize)
        libs = _libraries()
        if kind == "bitshuffle-lz4":
            rest = _extract.bitshuffle_lz4_decode(libs["lz4"], src, dtype.itemsize, scratch)
        else:
            rest = _extract.bitshuffle_zstd_decode(libs["bshuf_zstd_block"], src, dtype.itemsize, scratch)
        if rest < 0:
            raise OSError(f"corrupt chunk in {self.dataset.name} ({kind})")
        indptr = np.zeros(c + 1, np.int64)
        _extract.bitshuffled_events(src, rest, scratch, dtype.itemsize, n_pix, indptr, idx, bits)
        indptr = indptr[: count + 1]  # the last chunk may reach past the end
        e = indptr[-1]
        # Copies: the buffers are reused for the next chunk.
        events = CompressedFrames(indptr, idx[:e].copy(), bits[:e].view(dtype).copy(), frame_shape)
        keep = None
        if dtype.kind != "u" or threshold > 0:
            keep = events.values > threshold  # also drops -0.0 and negative values
        if good is not None:
            keep = good[events.indices] if keep is None else keep & good[events.indices]
        return events if keep is None else events.keep(keep)


class _Recycled:
    """Arrays for the chunks a reader yields, handed out again once nothing else holds them.

    A chunk of tens of megabytes is above glibc's largest mmap threshold, so a new
    one is fresh memory from the kernel each time, and its first touch costs page
    faults: as much CPU as decoding it. An array is reused only when no chunk or
    view of it is referenced anywhere else (its reference count says so): a
    consumer that keeps its chunks gets new arrays.
    """

    def __init__(self, keep: int = 2):
        self._arrays: list[np.ndarray] = []
        self._keep = keep

    def take(self, n: int, dtype) -> np.ndarray:
        """A 1-D array of ``n`` elements (contents undefined)."""
        dtype = np.dtype(dtype)
        for array in self._arrays:
            # Held by the list, this loop and getrefcount's argument: by nothing else.
            if array.dtype == dtype and array.size >= n and sys.getrefcount(array) <= 3:
                return array[:n]
        array = np.empty(n + n // 4, dtype)  # room for the next chunks to grow
        self._arrays.append(array)
        if len(self._arrays) > self._keep:
            self._arrays.pop(0)
        return array[:n]


def _result(item):
    first, count, future = item
    return first, count, future.result()


_local = threading.local()


def _buffers(n_elems: int, itemsize: int):
    """This thread's decoding buffers for a chunk of ``n_elems`` elements, reused across chunks.

    Fresh multi-megabyte arrays per chunk would cost a page fault per 4 KiB on
    first touch, as much time as decoding the chunk.
    """
    key = (n_elems, itemsize)
    if getattr(_local, "key", None) != key:
        n_bytes = n_elems * itemsize
        scratch = np.empty((n_bytes + 7) // 8, np.uint64).view(np.uint8)[:n_bytes]
        _local.buffers = (scratch, np.empty(n_elems, np.int32), np.empty(n_elems, f"u{itemsize}"))
        _local.key = key
    return _local.buffers
