"""Analysis templates: papermill notebooks with their metadata, found in template folders.

A template is an ordinary notebook. Its notebook metadata holds a ``raydata`` block::

    "raydata": {
      "name": "xpcs_saxs",                  # must equal the file name without .ipynb
      "title": "XPCS: multi-tau g2, two-time, XSVS",
      "description": "…",
      "beamlines": ["CHX"],
      "auto_pipelines": ["XPCS_SAXS*"],     # start-document auto_pipeline values (shell patterns)
      "kernel": "python3",                  # optional: else the notebook's kernelspec, else python3
      "parameters": {                       # JSON Schema of the template's own parameters
        "type": "object",
        "properties": {"num_bufs": {"type": "integer", "default": 8, "minimum": 2, …}, …}
      }
    }

and one code cell tagged ``parameters`` (papermill's convention) assigning every parameter of the
schema, with the schema's default, plus the parameters every job injects (:data:`INJECTED`). The
cell's order is the order of the listed schema's properties (the order of a form).

Folders are searched in order, the user's before the shipped :data:`SHIPPED_DIR`, and the first
template of a name wins, so a beamline overrides ``xpcs_saxs`` by putting its own ``xpcs_saxs.ipynb``
in a folder of ``c.Raydata.template_paths``. A template that cannot be used (not a notebook, bad
metadata, a broken schema, a parameters cell out of step with the schema) is still listed, with
``error`` saying why, and it still takes its name: a broken override is reported, never bypassed.
"""

from __future__ import annotations

import ast
import fnmatch
import json
import logging
import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..errors import BadRequest, NotFound
from ..masks.library import check_name as check_mask_name

log = logging.getLogger(__name__)

#: The templates that ship with the package.
SHIPPED_DIR = Path(__file__).resolve().parent.parent / "templates"

#: Parameters every job sets itself: a template's schema may not declare them, a submission may not
#: pass them among the template's parameters.
INJECTED = ("catalog", "uid", "mask", "output_dir")

PARAMETERS_TAG = "parameters"
DEFAULT_KERNEL = "python3"

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
_PARAMETER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class TemplateMetadata(BaseModel):
    """The ``raydata`` block of a template's notebook metadata, as written by its author."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="Identifier; equal to the file name without .ipynb.")
    title: str = Field(min_length=1, description="One line for menus and tables.")
    description: str = ""
    beamlines: list[str] = Field(default_factory=list)
    auto_pipelines: list[str] = Field(
        default_factory=list,
        description="Start-document auto_pipeline values this template serves (shell-style patterns).",
    )
    kernel: str | None = None
    parameters: dict[str, Any] = Field(
        default_factory=lambda: {"type": "object", "properties": {}},
        description="JSON Schema (an object schema) of the template's own parameters.",
    )


class TemplateInfo(BaseModel):
    """A template as listed: its metadata, where it lives, and why it cannot be used (if so)."""

    name: str
    title: str
    description: str = ""
    beamlines: list[str] = Field(default_factory=list)
    auto_pipelines: list[str] = Field(default_factory=list)
    kernel: str = DEFAULT_KERNEL
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})
    path: Path
    source: Path = Field(description="The template folder it was found in.")
    error: str | None = Field(None, description="Why the template cannot be used; None when it can.")

    def serves(self, auto_pipeline: str) -> bool:
        """Whether runs with this start-document ``auto_pipeline`` value are this template's to analyse."""
        return any(fnmatch.fnmatchcase(auto_pipeline, pattern) for pattern in self.auto_pipelines)


class TemplateError(Exception):
    """Why one template file cannot be used (becomes :attr:`TemplateInfo.error`)."""


def read_template(path: Path, source: Path | None = None) -> TemplateInfo:
    """Read one template file; problems are reported in the result's ``error``, never raised.

    Parameters
    ----------
    path : Path
        The ``.ipynb`` file.
    source : Path, optional
        The folder it was found in (default its parent).
    """
    path = Path(path)
    source = path.parent if source is None else source
    try:
        return _read(path, source)
    except TemplateError as exc:
        return TemplateInfo(name=path.stem, title=path.stem, path=path, source=source, error=str(exc))


def _read(path: Path, source: Path) -> TemplateInfo:
    import nbformat

    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text)
    except (OSError, UnicodeDecodeError) as exc:
        raise TemplateError(f"cannot read the file: {exc}") from None
    except json.JSONDecodeError as exc:
        raise TemplateError(
            f"not a notebook: invalid JSON at line {exc.lineno}, column {exc.colno}"
        ) from None
    if not isinstance(data, dict) or not isinstance(data.get("nbformat"), int):
        raise TemplateError("not a notebook: no nbformat version")
    try:
        nb = nbformat.reads(text, as_version=4)
        nbformat.validate(nb)
    except nbformat.ValidationError as exc:
        where = "/".join(str(p) for p in exc.absolute_path)
        # Messages about a whole cell quote all of it: name the place instead.
        problem = exc.message if len(exc.message) <= 120 else "does not follow the notebook format"
        raise TemplateError(f"not a valid notebook: {where + ': ' if where else ''}{problem}") from None
    except Exception as exc:  # nbformat's other refusals (an unknown version, a failed conversion)
        raise TemplateError(f"not a notebook: {_one_line(exc)}") from None
    block = nb.metadata.get("raydata")
    if block is None:
        raise TemplateError("no 'raydata' block in the notebook metadata")
    try:
        meta = TemplateMetadata.model_validate(block)
    except ValidationError as exc:
        raise TemplateError(f"bad 'raydata' metadata: {_pydantic_summary(exc)}") from None
    if meta.name != path.stem:
        raise TemplateError(f"metadata name '{meta.name}' differs from the file name '{path.stem}'")
    if not _NAME.match(meta.name):
        raise TemplateError(
            f"bad template name '{meta.name}': use letters, digits, '_' and '-', starting with a letter"
        )
    schema = check_parameters_cell(nb, check_schema(meta.parameters))
    kernel = meta.kernel or nb.metadata.get("kernelspec", {}).get("name") or DEFAULT_KERNEL
    return TemplateInfo(
        name=meta.name,
        title=meta.title,
        description=meta.description,
        beamlines=meta.beamlines,
        auto_pipelines=meta.auto_pipelines,
        kernel=kernel,
        parameters=schema,
        path=path,
        source=source,
    )


def _one_line(exc: object) -> str:
    return " ".join(str(exc).split())[:300]


def _pydantic_summary(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "(block)"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)


def check_schema(schema: dict) -> dict:
    """Check a template's parameter schema; return it with ``"type": "object"`` made explicit.

    Besides being valid JSON Schema (draft 2020-12), the schema must describe an object whose
    properties are Python identifiers, not injected parameters (:data:`INJECTED`), each with a
    ``type`` and a ``default`` that satisfies its own schema (papermill always passes a value).

    Raises
    ------
    TemplateError
        Naming the first problem found.
    """
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError

    if schema.get("type", "object") != "object":
        raise TemplateError("the parameter schema must have type 'object'")
    schema = {"type": "object", **schema}
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        where = "/".join(str(p) for p in exc.path)
        raise TemplateError(
            f"invalid parameter schema{f' at {where}' if where else ''}: {_one_line(exc.message)}"
        ) from None
    properties = schema.get("properties", {})
    reserved = sorted(set(properties) & set(INJECTED))
    if reserved:
        raise TemplateError(
            f"the parameter schema declares {', '.join(reserved)}: injected parameters "
            f"({', '.join(INJECTED)}) are set by every job and must not be declared"
        )
    for name, prop in properties.items():
        if not _PARAMETER.match(name):
            raise TemplateError(f"parameter '{name}' is not a Python identifier")
        if not isinstance(prop, dict) or "type" not in prop:
            raise TemplateError(f"parameter '{name}' has no 'type' in the schema")
        if "default" not in prop:
            raise TemplateError(f"parameter '{name}' has no 'default' in the schema")
        problem = next(iter(Draft202012Validator(prop).iter_errors(prop["default"])), None)
        if problem is not None:
            raise TemplateError(f"the default of parameter '{name}' is invalid: {_one_line(problem.message)}")
    return schema


def parameters_cell(nb) -> Any:
    """The first code cell tagged ``parameters``, or None."""
    for cell in nb.cells:
        if cell.cell_type == "code" and PARAMETERS_TAG in cell.get("metadata", {}).get("tags", []):
            return cell
    return None


def check_parameters_cell(nb, schema: dict) -> dict:
    """Check that the ``parameters`` cell assigns exactly the schema's parameters, with its defaults.

    Injected parameters may (and should, so the notebook runs by hand) be assigned there too. A value
    that is not a Python literal cannot be compared and is accepted as it is.

    Returns
    -------
    dict
        The schema with its properties in the order the cell assigns them: Jupyter saves notebook
        metadata with sorted keys, so the cell, which the author arranged, orders the form.

    Raises
    ------
    TemplateError
    """
    cell = parameters_cell(nb)
    if cell is None:
        raise TemplateError(f"no code cell tagged '{PARAMETERS_TAG}'")
    try:
        tree = ast.parse(cell.source)
    except SyntaxError as exc:
        raise TemplateError(
            f"the parameters cell has a syntax error on line {exc.lineno}: {exc.msg}"
        ) from None
    assigned: dict[str, ast.expr] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            assigned[node.targets[0].id] = node.value
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
            assigned[node.target.id] = node.value
    properties = schema.get("properties", {})
    missing = [name for name in properties if name not in assigned]
    if missing:
        raise TemplateError(f"the parameters cell does not assign {', '.join(missing)} (in the schema)")
    extra = [name for name in assigned if name not in properties and name not in INJECTED]
    if extra:
        raise TemplateError(
            f"the parameters cell assigns {', '.join(extra)}, which the schema does not describe"
        )
    for name, prop in properties.items():
        try:
            value = ast.literal_eval(assigned[name])
        except ValueError:
            continue
        default = prop["default"]
        if value != default or isinstance(value, bool) != isinstance(default, bool):
            raise TemplateError(
                f"parameter '{name}' is {value!r} in the parameters cell but {default!r} "
                "in the schema's default"
            )
    ordered = {name: properties[name] for name in assigned if name in properties}
    return {**schema, "properties": ordered} if properties else schema


class TemplateRegistry:
    """The templates of some folders, the first folder winning a name, then the shipped ones.

    Files are re-read when they change (by modification time and size), so an edited template is
    seen without restarting the server.

    Parameters
    ----------
    paths : list of Path
        Template folders in order of precedence (``c.Raydata.template_paths``); folders that do not
        exist are skipped with a warning.
    include_shipped : bool
        Append :data:`SHIPPED_DIR` (unless it is already among ``paths``).
    """

    def __init__(self, paths: list[Path], *, include_shipped: bool = True):
        folders = [Path(p).expanduser().resolve() for p in paths]
        if include_shipped and SHIPPED_DIR not in folders:
            folders.append(SHIPPED_DIR)
        self.paths = list(dict.fromkeys(folders))
        for folder in self.paths:
            if not folder.is_dir():
                log.warning("template folder %s does not exist", folder)
        self._cache: dict[Path, tuple[tuple[int, int], TemplateInfo]] = {}

    def list(self) -> list[TemplateInfo]:
        """Every template by name (broken ones with their ``error``), sorted by name."""
        found: dict[str, TemplateInfo] = {}
        for folder in self.paths:
            if not folder.is_dir():
                continue
            for path in sorted(folder.glob("*.ipynb")):
                if path.name.startswith(".") or path.stem in found:
                    continue
                found[path.stem] = self._read(path, folder)
        return [found[name] for name in sorted(found)]

    def _read(self, path: Path, folder: Path) -> TemplateInfo:
        try:
            stat = path.stat()
        except OSError as exc:
            return TemplateInfo(name=path.stem, title=path.stem, path=path, source=folder, error=str(exc))
        key = (stat.st_mtime_ns, stat.st_size)
        cached = self._cache.get(path)
        if cached is None or cached[0] != key:
            cached = (key, read_template(path, folder))
            self._cache[path] = cached
        return cached[1]

    def get(self, name: str) -> TemplateInfo:
        """The template called ``name`` (possibly broken: check ``error``).

        Raises
        ------
        NotFound
            Naming the known templates.
        """
        templates = self.list()
        for info in templates:
            if info.name == name:
                return info
        known = ", ".join(t.name for t in templates) or "none"
        raise NotFound("Unknown template", f"No template named '{name}'; known templates: {known}.")

    def for_auto_pipeline(self, value: str) -> list[TemplateInfo]:
        """Usable templates that serve runs whose start document has ``auto_pipeline = value``."""
        return [t for t in self.list() if t.error is None and t.serves(value)]


def validate_parameters(info: TemplateInfo, params: dict, *, mask: str | None) -> dict:
    """Check a submission's parameters against a template and fill in the defaults.

    Parameters
    ----------
    info : TemplateInfo
        The template (from :meth:`TemplateRegistry.get`).
    params : dict
        The template's own parameters; omitted ones take their default. Integers given as integral
        floats (``8.0``) become ``int``.
    mask : str or None
        The saved mask's name, or None / ``""`` for none.

    Returns
    -------
    dict
        Every parameter of the template, then ``mask`` (``""`` for none); the job adds ``catalog``,
        ``uid`` and ``output_dir``.

    Raises
    ------
    BadRequest
        For a broken template, an injected or unknown parameter, a value the schema refuses (naming
        the field) or a name no saved mask can have (whether the mask exists is the job's check).
    """
    from jsonschema import Draft202012Validator

    if info.error is not None:
        raise BadRequest("Broken template", f"Template '{info.name}' cannot be used: {info.error}")
    if not isinstance(params, dict):
        raise BadRequest("Invalid parameters", "Parameters must be an object of name: value pairs.")
    properties = info.parameters.get("properties", {})
    for name in params:
        if name in INJECTED:
            raise BadRequest(
                "Reserved parameter",
                f"'{name}' is set by the job ({', '.join(INJECTED)}), not among the template's parameters.",
            )
        if name not in properties:
            known = ", ".join(properties) or "none"
            raise BadRequest(
                "Unknown parameter",
                f"Template '{info.name}' has no parameter '{name}'; its parameters: {known}.",
            )
    values = {name: params.get(name, prop["default"]) for name, prop in properties.items()}
    for name, prop in properties.items():
        value = values[name]
        if prop.get("type") == "integer" and isinstance(value, float) and value.is_integer():
            values[name] = int(value)
    order = {name: i for i, name in enumerate(properties)}
    errors = sorted(
        Draft202012Validator(info.parameters).iter_errors(values),
        key=lambda e: (order.get(next(iter(e.absolute_path), None), -1), list(map(str, e.absolute_path))),
    )
    if errors:
        field = ".".join(str(p) for p in errors[0].absolute_path) or "parameters"
        raise BadRequest("Invalid parameter", f"{field}: {_one_line(errors[0].message)}")
    if mask:
        check_mask_name(mask)
    return {**values, "mask": mask or ""}
