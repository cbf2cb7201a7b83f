"""Small notebooks for runner tests: a parameters cell, markdown headings, code cells."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from jupyterlab_raydata.context import KernelSettings
from jupyterlab_raydata.jobs.folder import JobFolder, JobSpec

PARAMETERS = 'catalog = "demo"\nuid = ""\nmask = ""\noutput_dir = "."\n'


def write_notebook(path: Path, cells: list[str], *, parameters: str = PARAMETERS) -> Path:
    """A notebook whose cells are given as text: ``"# Heading"`` lines become markdown cells."""
    nb_cells = [new_code_cell(parameters, metadata={"tags": ["parameters"]})]
    for text in cells:
        if text.startswith("#"):
            nb_cells.append(new_markdown_cell(text))
        else:
            nb_cells.append(new_code_cell(text))
    nb = new_notebook(
        cells=nb_cells,
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
    )
    nbformat.write(nb, path)
    return path


def prepare(
    tmp_path: Path, cells: list[str], *, job_id: str = "1", parameters: dict | None = None
) -> JobFolder:
    """A job folder for a notebook of ``cells`` (no catalog is opened by these notebooks)."""
    template = write_notebook(tmp_path / f"template-{job_id}.ipynb", cells)
    folder = JobFolder(tmp_path / f"job-{job_id}")
    spec = JobSpec(
        job_id=job_id,
        template="test",
        template_path=str(template),
        catalog="demo",
        uid="0123456789abcdef",
        scan_id=90001,
        parameters=parameters or {},
        settings=KernelSettings(data_dir=str(tmp_path / "data"), masks_dir=str(tmp_path / "masks")),
        folder=str(folder.path),
    )
    folder.create(spec)
    return folder


def write_template(folder: Path, name: str, cells: list[str], properties: dict | None = None) -> Path:
    """A template ``name`` in ``folder``: the parameters cell assigns the injected parameters and
    every property's default; the notebook metadata describes them."""
    properties = properties or {}
    parameters = PARAMETERS + "".join(f"{key} = {prop['default']!r}\n" for key, prop in properties.items())
    path = write_notebook(folder / f"{name}.ipynb", cells, parameters=parameters)
    nb = nbformat.read(path, as_version=4)
    nb.metadata["raydata"] = {
        "name": name,
        "title": f"Test template {name}",
        "parameters": {"type": "object", "properties": properties},
    }
    nbformat.write(nb, path)
    return path
