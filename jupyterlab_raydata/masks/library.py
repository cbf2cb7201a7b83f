"""The mask library: one folder per saved mask, ordinary files a user can see, copy and version.

``<root>/<NAME>/`` holds

* ``mask.npy`` — the mask, a 2-D bool array, **True = pixel used** (the pyCHX / APS convention);
* ``recipe.json`` — how it was made (ordered layers, thresholds, geometry, ROIs, the run it was
  drawn on), from which it is re-opened for editing and reproduced exactly;
* ``sources/`` — copies of the arrays its upload and library layers used, so the folder stands alone;
* ``qmap.h5`` — when it has ROIs, the APS ``/qmap`` file (mask, dynamic and static ROI maps).

A folder is written in full under a temporary name and then renamed into place, so a reader never
sees half a mask.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np

from ..errors import BadRequest, Conflict, NotFound

MASK_FILE = "mask.npy"
RECIPE_FILE = "recipe.json"
QMAP_FILE = "qmap.h5"
SOURCES_DIR = "sources"
MAX_NAME = 128
#: Names the REST API uses for its own routes under ``masks/``; no mask may take them.
RESERVED = frozenset({"upload", "preview", "poni", "beam-center", "runs"})
_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*")
# Work folders start with a dot, which no mask name may, so they never show in the list.
_WORK_PREFIX = ".work-"


def check_name(name: str) -> str:
    """Return ``name`` if it is a valid mask name: letters, digits, ``-``, ``_`` and ``.``, not
    starting with ``.``, at most :data:`MAX_NAME` characters, and none of :data:`RESERVED`.

    Raises
    ------
    BadRequest
        Naming the problem.
    """
    if name in RESERVED:
        raise BadRequest("Invalid mask name", f"'{name}' is reserved; pick another name.")
    if not is_valid_name(name):
        raise BadRequest(
            "Invalid mask name",
            f"'{name}' is not a valid mask name: use letters, digits, '-', '_' and '.', not starting "
            f"with '.', at most {MAX_NAME} characters.",
        )
    return name


def is_valid_name(name) -> bool:
    """Whether :func:`check_name` accepts ``name``."""
    return (
        isinstance(name, str)
        and bool(_NAME.fullmatch(name))
        and len(name) <= MAX_NAME
        and name not in RESERVED
    )


class MaskLibrary:
    """The saved masks under one folder.

    Parameters
    ----------
    root : path
        The library folder (created on the first save).
    """

    def __init__(self, root: str | Path):
        self.root = Path(root).expanduser()

    def __repr__(self) -> str:
        return f"MaskLibrary({str(self.root)!r})"

    def path(self, name: str) -> Path:
        """The folder of mask ``name`` (which need not exist), checked to lie inside the library."""
        check_name(name)
        folder = self.root / name
        # A valid name has no separators, but the library itself may sit behind a symbolic link.
        resolved_root = self.root.resolve()
        if folder.resolve().parent != resolved_root:
            raise BadRequest("Invalid mask name", f"'{name}' points outside the mask library.")
        return folder

    def exists(self, name: str) -> bool:
        return (self.path(name) / MASK_FILE).is_file()

    def names(self) -> list[str]:
        """Saved masks, in name order."""
        if not self.root.is_dir():
            return []
        return sorted(
            entry.name
            for entry in self.root.iterdir()
            if is_valid_name(entry.name) and (entry / MASK_FILE).is_file()
        )

    def folder(self, name: str) -> Path:
        """The folder of the saved mask ``name``; :class:`NotFound` naming the library if none."""
        folder = self.path(name)
        if not (folder / MASK_FILE).is_file():
            raise NotFound("Unknown mask", f"There is no mask '{name}' in the mask library {self.root}.")
        return folder

    def load(self, name: str) -> np.ndarray:
        """The mask ``name`` as a 2-D bool array, True = pixel used.

        Raises
        ------
        NotFound
            Naming the library folder, when there is no such mask.
        """
        array = np.load(self.folder(name) / MASK_FILE, allow_pickle=False)
        if array.ndim != 2:
            raise BadRequest("Corrupt mask", f"Mask '{name}' holds a {array.ndim}-D array, not an image.")
        return array.astype(bool, copy=False)

    def recipe(self, name: str) -> dict:
        """The saved recipe of ``name`` (an empty dict for a folder that has none)."""
        path = self.folder(name) / RECIPE_FILE
        try:
            return json.loads(path.read_text())
        except FileNotFoundError:
            return {}
        except json.JSONDecodeError as exc:
            raise BadRequest("Corrupt recipe", f"{path} is not valid JSON: {exc}.") from None

    def source(self, name: str, relative: str) -> np.ndarray:
        """An array the recipe of ``name`` refers to under ``sources/`` (e.g. ``upload/ab12.npy``)."""
        folder = self.folder(name) / SOURCES_DIR
        path = (folder / relative).resolve()
        if not path.is_relative_to(folder.resolve()) or not path.is_file():
            raise NotFound("Missing source", f"Mask '{name}' has no source file '{relative}'.")
        return np.load(path, allow_pickle=False)

    def modified(self, name: str) -> float:
        return (self.folder(name) / MASK_FILE).stat().st_mtime

    def save(
        self,
        name: str,
        mask: np.ndarray,
        recipe: Mapping,
        *,
        sources: Mapping[str, np.ndarray] | None = None,
        writers: Mapping[str, Callable[[Path], None]] | None = None,
        overwrite: bool = False,
    ) -> Path:
        """Write mask ``name``: its array, its recipe, the source arrays and any other files.

        Parameters
        ----------
        mask : ndarray of bool
            True = pixel used.
        recipe : mapping
            JSON-serialisable.
        sources : mapping, optional
            ``{"upload/ab12.npy": array}``: arrays saved under ``sources/``.
        writers : mapping, optional
            ``{"qmap.h5": write}``: each ``write(path)`` creates that file.
        overwrite : bool
            Replace a mask of the same name; otherwise that is a :class:`Conflict`.

        Returns
        -------
        Path
            The mask's folder.
        """
        mask = np.asarray(mask)
        if mask.ndim != 2 or mask.dtype != bool:
            raise ValueError(f"a mask is a 2-D bool array, got {mask.dtype} of shape {mask.shape}")
        folder = self.path(name)
        if folder.exists() and not overwrite:
            raise Conflict(
                "Mask exists", f"A mask named '{name}' is already in the library; pick another name."
            )
        self.root.mkdir(parents=True, exist_ok=True)
        work = self.root / f"{_WORK_PREFIX}{secrets.token_hex(6)}"
        work.mkdir()
        try:
            np.save(work / MASK_FILE, mask)
            (work / RECIPE_FILE).write_text(json.dumps(recipe, indent=2, sort_keys=True) + "\n")
            for relative, array in (sources or {}).items():
                target = work / SOURCES_DIR / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                np.save(target, array)
            for filename, write in (writers or {}).items():
                write(work / filename)
            self._put(work, folder)
        except BaseException:
            shutil.rmtree(work, ignore_errors=True)
            raise
        return folder

    def _put(self, work: Path, folder: Path) -> None:
        """Move a finished work folder to ``folder``, replacing what is there."""
        if folder.exists():
            old = self.root / f"{_WORK_PREFIX}{secrets.token_hex(6)}"
            os.replace(folder, old)
            os.replace(work, folder)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(work, folder)

    def delete(self, name: str) -> None:
        folder = self.folder(name)
        trash = self.root / f"{_WORK_PREFIX}{secrets.token_hex(6)}"
        os.replace(folder, trash)
        shutil.rmtree(trash, ignore_errors=True)

    def rename(self, name: str, new_name: str) -> Path:
        folder = self.folder(name)
        target = self.path(new_name)
        if target.exists():
            raise Conflict("Mask exists", f"A mask named '{new_name}' is already in the library.")
        os.replace(folder, target)
        return target

    def duplicate(self, name: str, new_name: str) -> Path:
        folder = self.folder(name)
        target = self.path(new_name)
        if target.exists():
            raise Conflict("Mask exists", f"A mask named '{new_name}' is already in the library.")
        work = self.root / f"{_WORK_PREFIX}{secrets.token_hex(6)}"
        try:
            shutil.copytree(folder, work, symlinks=True)
            self._put(work, target)
        except BaseException:
            shutil.rmtree(work, ignore_errors=True)
            raise
        return target
