"""Uploaded mask files: read them safely, then keep the accepted arrays for composition.

Formats: ``.npy``, ``.tif``/``.tiff``, ``.edf``, ``.h5``/``.hdf5`` (one 2-D dataset, or the one named)
and a ZIP of several of them. Every check runs on the bytes in memory before anything is written:

* a ZIP's member count and total uncompressed size are capped (declared sizes first, then the bytes
  actually inflated), member names with ``..``, absolute paths or a symbolic-link mode are refused,
  as are encrypted and nested archives;
* an array's shape and type come from its header (npy header, TIFF tags, EDF header, HDF5 dataset)
  and are checked against the detector before any data is decoded;
* ``.npy`` files are never unpickled; HDF5 external links, external storage and virtual datasets are
  refused (each could make the server read files it was not sent);
* anything a reader cannot parse is refused as corrupt.

Any failure raises :class:`~jupyterlab_raydata.errors.BadRequest` naming the file and the reason.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import stat
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np

from ..errors import BadRequest, NotFound

SUFFIXES = (".npy", ".tif", ".tiff", ".edf", ".h5", ".hdf5")
#: Members of one ZIP at most.
MAX_MEMBERS = 64
#: A ZIP may inflate to at most this many times the upload size limit.
INFLATE_FACTOR = 8
#: Polarity a file type usually has: silx/pyFAI write EDF masks with non-zero = masked.
DEFAULT_POLARITY = {".edf": "masked"}


@dataclass(frozen=True)
class Limits:
    """Caps on one upload."""

    max_bytes: int

    @property
    def max_inflated(self) -> int:
        return self.max_bytes * INFLATE_FACTOR


@dataclass(frozen=True)
class ParsedMask:
    """One array read from an upload: ``nonzero`` is True where the file holds a non-zero value."""

    source: str
    nonzero: np.ndarray
    suggested_polarity: str


def _fail(where: str, reason: str) -> BadRequest:
    return BadRequest("Upload refused", f"{where}: {reason}")


def _check_array_header(where: str, shape: tuple, dtype: np.dtype, expected, limits: Limits) -> None:
    if len(shape) != 2:
        raise _fail(where, f"a mask must be a 2-D image, this holds an array of shape {tuple(shape)}")
    if expected is not None and tuple(shape) != tuple(expected):
        raise _fail(
            where, f"the array has shape {tuple(shape)} but the run's detector image has {tuple(expected)}"
        )
    if dtype.kind not in "biuf":
        raise _fail(where, f"a mask holds numbers, this array has type {dtype}")
    size = int(np.prod(shape)) * dtype.itemsize
    if size > limits.max_inflated:
        raise _fail(where, f"the array would take {size} bytes, over the {limits.max_inflated} bytes allowed")


def _read_npy(where: str, data: bytes, expected, limits: Limits) -> np.ndarray:
    stream = io.BytesIO(data)
    readers = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
    try:
        version = np.lib.format.read_magic(stream)
        if version not in readers:
            raise ValueError(f"format version {version} is not read here")
        shape, _fortran, dtype = readers[version](stream)
    except ValueError as exc:
        raise _fail(where, f"not a valid .npy file ({exc})") from None
    if dtype.hasobject:
        raise _fail(where, "the .npy file holds Python objects, which are never unpickled")
    _check_array_header(where, shape, dtype, expected, limits)
    try:
        return np.load(io.BytesIO(data), allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise _fail(where, f"the .npy file is truncated or corrupt ({exc})") from None


def _read_tiff(where: str, data: bytes, expected, limits: Limits) -> np.ndarray:
    import tifffile

    try:
        with tifffile.TiffFile(io.BytesIO(data)) as tif:
            if len(tif.pages) != 1:
                raise _fail(where, f"the TIFF file holds {len(tif.pages)} images; a mask is one image")
            page = tif.pages[0]
            _check_array_header(where, page.shape, np.dtype(page.dtype), expected, limits)
            return page.asarray()
    except BadRequest:
        raise
    except Exception as exc:
        raise _fail(where, f"not a readable TIFF file ({type(exc).__name__}: {exc})") from None


def _read_edf(where: str, data: bytes, expected, limits: Limits) -> np.ndarray:
    import fabio.edfimage
    import fabio.fabioutils

    try:
        image = fabio.edfimage.EdfImage().read(fabio.fabioutils.BytesIO(data))
        if image.nframes != 1:
            raise _fail(where, f"the EDF file holds {image.nframes} images; a mask is one image")
        compression = str(image.header.get("Compression", "none")).lower()
        if compression not in ("none", ""):
            # A compressed block is inflated whole before its size is known: refuse rather than risk it.
            raise _fail(where, f"compressed EDF data ({compression}) is not read; save the mask uncompressed")
        # The shape and type come from the header; the data is decoded on first access.
        _check_array_header(where, image.shape, np.dtype(image.dtype), expected, limits)
        return np.asarray(image.data)
    except BadRequest:
        raise
    except Exception as exc:
        raise _fail(where, f"not a readable EDF file ({type(exc).__name__}: {exc})") from None


def _hdf5_datasets(where: str, group, prefix: str = "", seen: set | None = None) -> list:
    """Every dataset below ``group``, refusing links and storage outside the file."""
    import h5py

    seen = set() if seen is None else seen
    found = []
    for name in group:
        path = f"{prefix}/{name}"
        link = group.get(name, getlink=True)
        if isinstance(link, h5py.ExternalLink):
            raise _fail(where, f"'{path}' is an external link to another file")
        if isinstance(link, h5py.SoftLink):
            continue  # points inside this file: the target is visited where it lives
        item = group[name]
        if item.id in seen:
            continue  # a second hard link to an object already visited (groups may even form cycles)
        seen.add(item.id)
        if isinstance(item, h5py.Group):
            found += _hdf5_datasets(where, item, path, seen)
        elif isinstance(item, h5py.Dataset):
            if item.is_virtual:
                raise _fail(where, f"'{path}' is a virtual dataset, which reads other files")
            if item.external:
                raise _fail(where, f"'{path}' keeps its data in external files")
            found.append((path, item))
    return found


def _read_hdf5(where: str, data: bytes, expected, limits: Limits, dataset) -> tuple[np.ndarray, str]:
    import h5py

    try:
        with h5py.File(io.BytesIO(data), "r") as f:
            datasets = _hdf5_datasets(where, f)
            if dataset is not None:
                wanted = "/" + dataset.strip("/")
                chosen = [d for d in datasets if d[0] == wanted]
                if not chosen:
                    names = ", ".join(p for p, _ in datasets) or "none"
                    raise _fail(where, f"there is no dataset '{wanted}' (datasets: {names})")
            else:
                chosen = [d for d in datasets if d[1].ndim == 2]
                if len(chosen) != 1:
                    names = ", ".join(p for p, _ in chosen) or "none"
                    raise _fail(
                        where, f"pick the mask's dataset: the file has {len(chosen)} 2-D datasets ({names})"
                    )
            path, item = chosen[0]
            _check_array_header(f"{where} {path}", item.shape, item.dtype, expected, limits)
            return item[()], path
    except BadRequest:
        raise
    except Exception as exc:
        raise _fail(where, f"not a readable HDF5 file ({type(exc).__name__}: {exc})") from None


def _read_one(where: str, suffix: str, data: bytes, expected, limits: Limits, dataset) -> ParsedMask:
    if suffix == ".npy":
        array = _read_npy(where, data, expected, limits)
    elif suffix in (".tif", ".tiff"):
        array = _read_tiff(where, data, expected, limits)
    elif suffix == ".edf":
        array = _read_edf(where, data, expected, limits)
    else:
        array, path = _read_hdf5(where, data, expected, limits, dataset)
        where = f"{where}:{path}"
    array = np.asarray(array)
    _check_array_header(where, array.shape, array.dtype, expected, limits)
    return ParsedMask(where, array != 0, DEFAULT_POLARITY.get(suffix, "used"))


def _member_problem(info: zipfile.ZipInfo) -> str | None:
    name = info.filename
    path = PurePosixPath(name.replace("\\", "/"))
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        return "is an absolute path"
    if ".." in path.parts:
        return "climbs out of the archive with '..'"
    if stat.S_ISLNK(info.external_attr >> 16):
        return "is a symbolic link"
    if info.flag_bits & 0x1:
        return "is encrypted"
    return None


def _read_zip(where: str, data: bytes, expected, limits: Limits, dataset) -> list[ParsedMask]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise _fail(where, f"not a readable ZIP archive ({exc})") from None
    files = [i for i in infos if not i.is_dir()]
    if len(files) > MAX_MEMBERS:
        raise _fail(where, f"the archive has {len(files)} members, more than the {MAX_MEMBERS} allowed")
    for info in infos:
        problem = _member_problem(info)
        if problem:
            raise _fail(where, f"member '{info.filename}' {problem}")
    declared = sum(i.file_size for i in files)
    if declared > limits.max_inflated:
        raise _fail(
            where, f"the archive inflates to {declared} bytes, over the {limits.max_inflated} bytes allowed"
        )
    wanted = [
        i
        for i in files
        if not PurePosixPath(i.filename).name.startswith(".") and not i.filename.startswith("__MACOSX/")
    ]
    if not wanted:
        raise _fail(where, "the archive holds no mask files")
    out = []
    budget = limits.max_inflated
    for info in wanted:
        member = f"{where}/{info.filename}"
        suffix = PurePosixPath(info.filename).suffix.lower()
        if suffix not in SUFFIXES:
            if suffix == ".zip":
                raise _fail(member, "archives inside archives are not read")
            raise _fail(member, f"unsupported file type; use one of {', '.join(SUFFIXES)}")
        content = _inflate(member, archive, info, budget)
        budget -= len(content)
        out.append(_read_one(member, suffix, content, expected, limits, dataset))
    return out


def _inflate(where: str, archive: zipfile.ZipFile, info: zipfile.ZipInfo, budget: int) -> bytes:
    """A member's bytes, stopping as soon as it inflates past its declared size or the budget."""
    cap = min(info.file_size, budget)
    chunks, size = [], 0
    try:
        with archive.open(info) as stream:
            while chunk := stream.read(1 << 20):
                size += len(chunk)
                if size > cap:
                    raise _fail(where, "inflates beyond its declared size or the upload limit")
                chunks.append(chunk)
    except BadRequest:
        raise
    except Exception as exc:
        raise _fail(where, f"cannot be extracted ({type(exc).__name__}: {exc})") from None
    return b"".join(chunks)


def parse_upload(
    filename: str, data: bytes, *, limits: Limits, expected_shape=None, dataset: str | None = None
) -> list[ParsedMask]:
    """Read every mask in one uploaded file (one, or several from a ZIP).

    Raises
    ------
    BadRequest
        Naming the file (and member or dataset) and the reason, for anything refused.
    """
    where = PurePosixPath(filename.replace("\\", "/")).name or "upload"
    if len(data) > limits.max_bytes:
        raise _fail(where, f"the file has {len(data)} bytes, over the {limits.max_bytes} bytes allowed")
    suffix = PurePosixPath(where).suffix.lower()
    if suffix == ".zip":
        return _read_zip(where, data, expected_shape, limits, dataset)
    if suffix not in SUFFIXES:
        raise _fail(where, f"unsupported file type; use one of {', '.join((*SUFFIXES, '.zip'))}")
    return [_read_one(where, suffix, data, expected_shape, limits, dataset)]


def upload_id(nonzero: np.ndarray) -> str:
    """A content address for an uploaded array (shape and bits)."""
    digest = hashlib.sha256(repr(nonzero.shape).encode())
    digest.update(np.packbits(nonzero).tobytes())
    return digest.hexdigest()[:24]


class UploadStore:
    """Accepted uploads, content-addressed: ``<id>.npy`` (bool, True where the file was non-zero) and
    ``<id>.json`` (where it came from)."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def put(self, parsed: ParsedMask) -> str:
        ident = upload_id(parsed.nonzero)
        self.root.mkdir(parents=True, exist_ok=True)
        target = self.root / f"{ident}.npy"
        if not target.exists():
            fd, tmp = tempfile.mkstemp(dir=self.root, suffix=".part")
            try:
                with os.fdopen(fd, "wb") as f:
                    np.save(f, parsed.nonzero)
                os.replace(tmp, target)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        (self.root / f"{ident}.json").write_text(json.dumps({"source": parsed.source}))
        return ident

    def add_array(self, nonzero: np.ndarray, source: str) -> str:
        """Keep an array that comes from elsewhere (a saved mask's sources) under its id."""
        return self.put(ParsedMask(source, np.asarray(nonzero, dtype=bool), "used"))

    def get(self, ident: str) -> np.ndarray:
        path = self.root / f"{ident}.npy"
        if not ident.isalnum() or not path.is_file():
            raise NotFound("Unknown upload", f"There is no uploaded mask '{ident}'; upload the file again.")
        return np.load(path, allow_pickle=False)
