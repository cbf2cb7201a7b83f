"""Template discovery, metadata checks and parameter validation (no kernel is started here)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import nbformat
import pytest
from notebooks import write_template

from jupyterlab_raydata.errors import BadRequest, NotFound
from jupyterlab_raydata.jobs.templates import (
    INJECTED,
    SHIPPED_DIR,
    TemplateRegistry,
    read_template,
    validate_parameters,
)

SIZE = {"type": "integer", "default": 2, "minimum": 1, "maximum": 10, "description": "How many."}
MODE = {"type": "string", "default": "fast", "enum": ["fast", "slow"]}
FLAG = {"type": "boolean", "default": True}


def edit(path: Path, change) -> Path:
    """Apply ``change(nb)`` to a notebook file and write it back."""
    nb = nbformat.read(path, as_version=4)
    change(nb)
    nbformat.write(nb, path)
    return path


def set_parameters_cell(source: str):
    def change(nb):
        nb.cells[0].source = source

    return change


def set_raydata(**fields):
    def change(nb):
        nb.metadata["raydata"].update(fields)

    return change


def set_property(name, prop):
    def change(nb):
        nb.metadata["raydata"]["parameters"]["properties"][name] = prop

    return change


@pytest.fixture
def user_dir(tmp_path) -> Path:
    folder = tmp_path / "user-templates"
    folder.mkdir()
    return folder


@pytest.fixture
def sized(user_dir):
    """A usable template ``sized`` with the parameters size, mode and flag."""
    path = write_template(user_dir, "sized", ["x = 1"], {"size": SIZE, "mode": MODE, "flag": FLAG})
    info = read_template(path)
    assert info.error is None
    return info


# -- the shipped templates --------------------------------------------------------------------------


def test_shipped_templates_are_listed_and_usable():
    templates = TemplateRegistry([]).list()
    assert [t.name for t in templates] == ["quick_look", "xpcs_saxs"]
    for info in templates:
        assert info.error is None
        assert info.source == SHIPPED_DIR
        assert info.path == SHIPPED_DIR / f"{info.name}.ipynb"
        assert info.kernel == "python3"
        assert info.beamlines == ["CHX"]
        properties = info.parameters["properties"]
        assert not set(properties) & set(INJECTED)
        for name, prop in properties.items():
            assert prop.get("description"), name
    xpcs = TemplateRegistry([]).get("xpcs_saxs")
    assert xpcs.auto_pipelines == ["XPCS_SAXS*"]
    assert list(xpcs.parameters["properties"]) == [
        "hot_sigma",
        "dead_fraction",
        "bad_frame_low_fraction",
        "bad_frame_high_sigma",
        "beam_center",
        "q_min",
        "q_max",
        "num_rings",
        "ring_spacing",
        "num_bufs",
        "g2_model",
        "fit_baseline",
        "d_fit_min_tau_frames",
        "d_fit_max_tau_fraction",
        "d_fit_max_rel_error",
        "d_fit_min_rings",
        "run_two_time",
        "two_time_max_frames",
        "run_xsvs",
        "xsvs_exposures",
        "xsvs_max_mean_counts",
    ]
    quick = TemplateRegistry([]).get("quick_look")
    assert list(quick.parameters["properties"]) == [
        "max_frames",
        "bad_frame_low_fraction",
        "bad_frame_high_sigma",
        "iq_bins",
        "beam_center",
    ]


@pytest.mark.parametrize("name", ["quick_look", "xpcs_saxs"])
def test_shipped_notebooks_are_committed_clean(name):
    """No outputs or execution counts, and byte for byte what Jupyter writes (nbformat 4, indent 1)."""
    path = SHIPPED_DIR / f"{name}.ipynb"
    text = path.read_text(encoding="utf-8")
    nb = nbformat.reads(text, as_version=4)
    assert nb.nbformat == 4
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == []
            assert cell.execution_count is None
    assert nbformat.writes(nb) + "\n" == text


# -- the registry -----------------------------------------------------------------------------------


def test_user_template_overrides_a_shipped_one_by_name(user_dir):
    write_template(user_dir, "xpcs_saxs", ["x = 1"], {"size": SIZE})
    registry = TemplateRegistry([user_dir])
    templates = {t.name: t for t in registry.list()}
    assert sorted(templates) == ["quick_look", "xpcs_saxs"]
    assert templates["xpcs_saxs"].source == user_dir.resolve()
    assert templates["xpcs_saxs"].title == "Test template xpcs_saxs"
    assert list(templates["xpcs_saxs"].parameters["properties"]) == ["size"]
    assert templates["quick_look"].source == SHIPPED_DIR
    assert registry.get("xpcs_saxs").path == user_dir.resolve() / "xpcs_saxs.ipynb"


def test_first_user_folder_wins(tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    write_template(first, "mine", ["x = 1"])
    write_template(second, "mine", ["x = 2"], {"size": SIZE})
    write_template(second, "other", ["x = 3"])
    registry = TemplateRegistry([first, second], include_shipped=False)
    assert [(t.name, t.source) for t in registry.list()] == [
        ("mine", first.resolve()),
        ("other", second.resolve()),
    ]


def test_broken_user_template_still_overrides_and_is_listed(user_dir):
    (user_dir / "quick_look.ipynb").write_text("{not json")
    registry = TemplateRegistry([user_dir])
    info = registry.get("quick_look")
    assert info.error == "not a notebook: invalid JSON at line 1, column 2"
    assert info.title == "quick_look"
    assert info.source == user_dir.resolve()
    assert [t.name for t in registry.list()] == ["quick_look", "xpcs_saxs"]


def test_get_unknown_names_the_known_templates(user_dir):
    write_template(user_dir, "sized", ["x = 1"], {"size": SIZE})
    with pytest.raises(NotFound) as caught:
        TemplateRegistry([user_dir]).get("nope")
    assert caught.value.status == 404
    assert caught.value.error == "Unknown template"
    assert caught.value.detail == "No template named 'nope'; known templates: quick_look, sized, xpcs_saxs."


def test_for_auto_pipeline_matches_patterns_and_skips_broken(user_dir):
    write_template(user_dir, "gisaxs", ["x = 1"])
    edit(user_dir / "gisaxs.ipynb", set_raydata(auto_pipelines=["XPCS_GISAXS_2021_1", "XPCS_GISAXS_v*"]))
    write_template(user_dir, "broken", ["x = 1"])
    edit(user_dir / "broken.ipynb", set_raydata(auto_pipelines=["XPCS_GISAXS*"], title=""))
    registry = TemplateRegistry([user_dir])
    assert registry.get("broken").error is not None
    assert [t.name for t in registry.for_auto_pipeline("XPCS_SAXS_2way_pipeline")] == ["xpcs_saxs"]
    assert [t.name for t in registry.for_auto_pipeline("XPCS_SAXS_2021_1_v2")] == ["xpcs_saxs"]
    assert [t.name for t in registry.for_auto_pipeline("XPCS_GISAXS_v3")] == ["gisaxs"]
    assert [t.name for t in registry.for_auto_pipeline("XPCS_GISAXS_2021_1")] == ["gisaxs"]
    assert registry.for_auto_pipeline("XPCS_GISAXS_2022_1") == []
    assert registry.for_auto_pipeline("none") == []


def test_missing_folder_is_skipped_with_a_warning(tmp_path, user_dir, caplog):
    write_template(user_dir, "sized", ["x = 1"], {"size": SIZE})
    with caplog.at_level(logging.WARNING, logger="jupyterlab_raydata.jobs.templates"):
        registry = TemplateRegistry([tmp_path / "absent", user_dir])
    assert f"template folder {tmp_path / 'absent'} does not exist" in caplog.messages
    assert [t.name for t in registry.list()] == ["quick_look", "sized", "xpcs_saxs"]


def test_an_edited_template_is_read_again(user_dir):
    path = write_template(user_dir, "sized", ["x = 1"], {"size": SIZE})
    registry = TemplateRegistry([user_dir], include_shipped=False)
    assert registry.get("sized").title == "Test template sized"
    edit(path, set_raydata(title="Sized, renamed"))
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    assert registry.get("sized").title == "Sized, renamed"


def test_hidden_and_other_files_are_not_templates(user_dir):
    write_template(user_dir, "sized", ["x = 1"], {"size": SIZE})
    (user_dir / ".hidden.ipynb").write_text("{}")
    (user_dir / "notes.txt").write_text("not a template")
    (user_dir / "sub").mkdir()
    write_template(user_dir / "sub", "nested", ["x = 1"])
    assert [t.name for t in TemplateRegistry([user_dir], include_shipped=False).list()] == ["sized"]


# -- what makes a template broken -------------------------------------------------------------------

BROKEN = {
    "invalid JSON": (
        lambda path: path.write_text('{\n "cells": [}'),
        "not a notebook: invalid JSON at line 2, column 12",
    ),
    "not a notebook": (
        lambda path: path.write_text('{"cells": 5}'),
        "not a notebook: no nbformat version",
    ),
    "invalid notebook": (
        lambda path: edit(path, lambda nb: nb.cells[0].update(cell_type="nonsense")),
        "not a valid notebook: cells/0: does not follow the notebook format",
    ),
    "unknown notebook version": (
        lambda path: path.write_text('{"nbformat": 99, "nbformat_minor": 0, "cells": [], "metadata": {}}'),
        "not a notebook: Unsupported nbformat version 99",
    ),
    "not UTF-8": (
        lambda path: path.write_bytes(b"\xff\xfe"),
        "cannot read the file: 'utf-8' codec can't decode byte 0xff in position 0: invalid start byte",
    ),
    "no raydata block": (
        lambda path: edit(path, lambda nb: nb.metadata.pop("raydata")),
        "no 'raydata' block in the notebook metadata",
    ),
    "no title": (
        lambda path: edit(path, lambda nb: nb.metadata["raydata"].pop("title")),
        "bad 'raydata' metadata: title: Field required",
    ),
    "empty title": (
        lambda path: edit(path, set_raydata(title="")),
        "bad 'raydata' metadata: title: String should have at least 1 character",
    ),
    "misspelt key": (
        lambda path: edit(path, set_raydata(auto_pipeline="XPCS")),
        "bad 'raydata' metadata: auto_pipeline: Extra inputs are not permitted",
    ),
    "beamlines not a list": (
        lambda path: edit(path, set_raydata(beamlines="CHX")),
        "bad 'raydata' metadata: beamlines: Input should be a valid list",
    ),
    "name differs from the file": (
        lambda path: edit(path, set_raydata(name="other")),
        "metadata name 'other' differs from the file name 'sized'",
    ),
    "schema not an object": (
        lambda path: edit(path, set_raydata(parameters={"type": "array"})),
        "the parameter schema must have type 'object'",
    ),
    "invalid schema": (
        lambda path: edit(path, set_property("size", {"type": "integr", "default": 2})),
        "invalid parameter schema at properties/size/type: "
        "'integr' is not valid under any of the given schemas",
    ),
    "schema declares an injected parameter": (
        lambda path: edit(path, set_property("uid", {"type": "string", "default": ""})),
        "the parameter schema declares uid: injected parameters (catalog, uid, mask, output_dir) are set by "
        "every job and must not be declared",
    ),
    "parameter without type": (
        lambda path: edit(path, set_property("size", {"default": 2})),
        "parameter 'size' has no 'type' in the schema",
    ),
    "parameter without default": (
        lambda path: edit(path, set_property("size", {"type": "integer"})),
        "parameter 'size' has no 'default' in the schema",
    ),
    "default outside its range": (
        lambda path: edit(path, set_property("size", {**SIZE, "default": 0})),
        "the default of parameter 'size' is invalid: 0 is less than the minimum of 1",
    ),
    "parameter not an identifier": (
        lambda path: edit(path, set_property("num-bufs", {"type": "integer", "default": 8})),
        "parameter 'num-bufs' is not a Python identifier",
    ),
    "no parameters cell": (
        lambda path: edit(path, lambda nb: nb.cells[0].metadata.update(tags=[])),
        "no code cell tagged 'parameters'",
    ),
    "parameters cell syntax error": (
        lambda path: edit(path, set_parameters_cell('catalog = "demo"\nsize = (2\n')),
        "the parameters cell has a syntax error on line 2: '(' was never closed",
    ),
    "parameters cell misses a parameter": (
        lambda path: edit(path, set_parameters_cell('uid = ""\nmode = "fast"\nflag = True\n')),
        "the parameters cell does not assign size (in the schema)",
    ),
    "parameters cell assigns an undescribed name": (
        lambda path: edit(path, set_parameters_cell("size = 2\nmode = 'fast'\nflag = True\nthreshold = 3\n")),
        "the parameters cell assigns threshold, which the schema does not describe",
    ),
    "parameters cell default differs": (
        lambda path: edit(path, set_parameters_cell("size = 3\nmode = 'fast'\nflag = True\n")),
        "parameter 'size' is 3 in the parameters cell but 2 in the schema's default",
    ),
    "parameters cell has 1 for True": (
        lambda path: edit(path, set_parameters_cell("size = 2\nmode = 'fast'\nflag = 1\n")),
        "parameter 'flag' is 1 in the parameters cell but True in the schema's default",
    ),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_broken_template_is_listed_with_its_error(case, user_dir):
    path = write_template(user_dir, "sized", ["x = 1"], {"size": SIZE, "mode": MODE, "flag": FLAG})
    breaks, error = BROKEN[case]
    breaks(path)
    registry = TemplateRegistry([user_dir], include_shipped=False)
    [info] = registry.list()
    assert (info.name, info.path, info.source) == ("sized", path.resolve(), user_dir.resolve())
    assert info.error == error
    assert registry.for_auto_pipeline("anything") == []
    with pytest.raises(BadRequest) as caught:
        validate_parameters(info, {}, mask=None)
    assert caught.value.error == "Broken template"
    assert caught.value.detail == f"Template 'sized' cannot be used: {info.error}"


def test_parameters_cell_values_that_are_not_literals_are_accepted(user_dir):
    path = write_template(user_dir, "sized", ["x = 1"], {"size": SIZE, "mode": MODE, "flag": FLAG})
    edit(path, set_parameters_cell("size: int = 1 + 1\nmode = 'fast'\nflag = True\noutput_dir = '.'\n"))
    assert read_template(path).error is None


def test_kernel_comes_from_metadata_then_kernelspec(user_dir):
    path = write_template(user_dir, "sized", ["x = 1"])
    assert read_template(path).kernel == "python3"
    edit(path, lambda nb: nb.metadata.kernelspec.update(name="xpcs-env"))
    assert read_template(path).kernel == "xpcs-env"
    edit(path, set_raydata(kernel="chx-2024"))
    assert read_template(path).kernel == "chx-2024"


# -- parameters of a submission ---------------------------------------------------------------------


def test_defaults_fill_a_submission(sized):
    assert validate_parameters(sized, {}, mask=None) == {"size": 2, "mode": "fast", "flag": True, "mask": ""}
    assert validate_parameters(sized, {"size": 7, "flag": False}, mask="beamstop_4m") == {
        "size": 7,
        "mode": "fast",
        "flag": False,
        "mask": "beamstop_4m",
    }


def test_shipped_defaults_are_complete():
    info = TemplateRegistry([]).get("xpcs_saxs")
    values = validate_parameters(info, {}, mask="")
    assert values == {
        **{name: prop["default"] for name, prop in info.parameters["properties"].items()},
        "mask": "",
    }
    assert (values["num_rings"], values["num_bufs"], values["run_two_time"], values["q_min"]) == (
        16,
        8,
        True,
        None,
    )


def test_an_integral_float_becomes_an_int(sized):
    values = validate_parameters(sized, {"size": 4.0}, mask=None)
    assert values["size"] == 4
    assert type(values["size"]) is int


@pytest.mark.parametrize("name", INJECTED)
def test_injected_parameters_are_refused(sized, name):
    with pytest.raises(BadRequest) as caught:
        validate_parameters(sized, {name: "x"}, mask=None)
    assert caught.value.status == 400
    assert caught.value.error == "Reserved parameter"
    assert caught.value.detail == (
        f"'{name}' is set by the job (catalog, uid, mask, output_dir), not among the template's parameters."
    )


def test_unknown_parameter_is_refused_naming_the_known_ones(sized):
    with pytest.raises(BadRequest) as caught:
        validate_parameters(sized, {"sizes": 3}, mask=None)
    assert caught.value.error == "Unknown parameter"
    assert (
        caught.value.detail == "Template 'sized' has no parameter 'sizes'; its parameters: size, mode, flag."
    )


INVALID = [
    ({"size": "3"}, "size: '3' is not of type 'integer'"),
    ({"size": 2.5}, "size: 2.5 is not of type 'integer'"),
    ({"size": True}, "size: True is not of type 'integer'"),
    ({"size": 0}, "size: 0 is less than the minimum of 1"),
    ({"size": 11}, "size: 11 is greater than the maximum of 10"),
    ({"size": None}, "size: None is not of type 'integer'"),
    ({"mode": "medium"}, "mode: 'medium' is not one of ['fast', 'slow']"),
    ({"flag": "yes"}, "flag: 'yes' is not of type 'boolean'"),
    # Several problems: the first parameter in the schema's order is named.
    ({"flag": 1, "size": 0}, "size: 0 is less than the minimum of 1"),
]


@pytest.mark.parametrize(("params", "detail"), INVALID)
def test_invalid_values_are_refused_naming_the_field(sized, params, detail):
    with pytest.raises(BadRequest) as caught:
        validate_parameters(sized, params, mask=None)
    assert caught.value.status == 400
    assert caught.value.error == "Invalid parameter"
    assert caught.value.detail == detail


SHIPPED_INVALID = [
    ({"num_bufs": 7}, "num_bufs: 7 is not a multiple of 2"),
    ({"ring_spacing": "cubic"}, "ring_spacing: 'cubic' is not one of ['linear', 'log']"),
    ({"beam_center": [64.0]}, "beam_center: [64.0] is too short"),
    ({"beam_center": [64.0, "a"]}, "beam_center.1: 'a' is not of type 'number'"),
    ({"q_max": 0}, "q_max: 0 is less than or equal to the minimum of 0"),
    ({"d_fit_max_tau_fraction": 1.5}, "d_fit_max_tau_fraction: 1.5 is greater than the maximum of 1"),
]


@pytest.mark.parametrize(("params", "detail"), SHIPPED_INVALID)
def test_shipped_schema_refuses(params, detail):
    info = TemplateRegistry([]).get("xpcs_saxs")
    with pytest.raises(BadRequest) as caught:
        validate_parameters(info, params, mask=None)
    assert caught.value.detail == detail


def test_shipped_schema_accepts_nulls_and_pairs():
    info = TemplateRegistry([]).get("xpcs_saxs")
    values = validate_parameters(info, {"beam_center": [64, 70.5], "q_min": None, "q_max": 0.01}, mask=None)
    assert (values["beam_center"], values["q_min"], values["q_max"]) == ([64, 70.5], None, 0.01)


@pytest.mark.parametrize("mask", ["../etc/passwd", "a/b", ".hidden", "two words", "x" * 129])
def test_a_mask_name_must_be_a_plain_name(sized, mask):
    with pytest.raises(BadRequest) as caught:
        validate_parameters(sized, {}, mask=mask)
    assert caught.value.error == "Invalid mask name"
    assert caught.value.detail == (
        f"'{mask}' is not a valid mask name: use letters, digits, '-', '_' and '.', not starting "
        "with '.', at most 128 characters."
    )


def test_a_reserved_mask_name_is_refused(sized):
    with pytest.raises(BadRequest) as caught:
        validate_parameters(sized, {}, mask="upload")
    assert caught.value.detail == "'upload' is reserved; pick another name."


def test_parameters_must_be_an_object(sized):
    with pytest.raises(BadRequest) as caught:
        validate_parameters(sized, [("size", 2)], mask=None)
    assert caught.value.error == "Invalid parameters"
