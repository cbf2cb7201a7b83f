"""``MaskEditor``: draw a mask on an image in a notebook, with bqplot selectors, and save it to the
same library as the sidebar's mask composer."""

from __future__ import annotations

import io
from pathlib import Path

import ipywidgets as widgets
import numpy as np

from ..analysis.geometry import Geometry
from ..masks.compose import Composer, Inputs, ResolvedGeometry
from ..masks.images import RunImages, reduce_frames
from ..masks.library import MaskLibrary
from ..masks.recipe import CONVENTION, Recipe
from ..masks.uploads import upload_id

#: Cells of the lasso's pick grid along the image's longer side (a lasso selects whole cells).
LASSO_CELLS = 160


def _png(image: np.ndarray, used: np.ndarray, scale: str, max_size: int) -> bytes:
    """The image log- or linear-scaled in grey, masked pixels tinted red, at most ``max_size`` wide."""
    from PIL import Image

    values = np.nan_to_num(np.asarray(image, dtype=np.float32), nan=0.0, posinf=0.0, neginf=0.0)
    values = np.clip(values, 0, None)
    if scale == "log":
        values = np.log10(1 + values)
    lo, hi = np.percentile(values, [1, 99.5])
    level = np.clip((values - lo) / max(hi - lo, 1e-12), 0, 1)
    rgb = np.repeat((level * 255).astype(np.uint8)[..., None], 3, axis=2)
    rgb[~used] = (0.45 * rgb[~used] + 0.55 * np.array([220, 40, 40])).astype(np.uint8)
    picture = Image.fromarray(rgb, mode="RGB")
    factor = max_size / max(image.shape)
    if factor < 1:
        size = (max(1, round(image.shape[1] * factor)), max(1, round(image.shape[0] * factor)))
        picture = picture.resize(size, Image.Resampling.BOX)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()


class MaskEditor(widgets.VBox):
    """Draw a mask on a detector image: True = pixel used, as everywhere in Raydata.

    Select a region with the rectangle, lasso or brush (a band of columns) tool, then press
    **Exclude** or **Include**; **Threshold** excludes pixels outside a value range; **Undo** takes
    back the last step. The result is :attr:`mask`; :attr:`recipe` says how it was made (the
    sidebar's recipe format) and :meth:`save` puts both in the mask library.

    Parameters
    ----------
    image : array_like, shape ``(H, W)``
        The image to draw on (e.g. a run's average).
    mask : array_like of bool, optional
        A starting mask (True = used); kept as the first layer.
    geometry : Geometry, optional
        Shown as the beam centre; recorded in the recipe.
    library : MaskLibrary or path, optional
        Where :meth:`save` writes; default the Raydata server's mask library.
    run : dict, optional
        ``{"catalog", "uid", "key"}`` of the run the image comes from, so the composer can re-open
        the mask (see :meth:`from_run`).
    max_display : int
        Longest side of the picture shown, in pixels.

    Examples
    --------
    >>> editor = MaskEditor.from_run("demo", uid)   # doctest: +SKIP
    >>> editor                                       # draw, then:  # doctest: +SKIP
    >>> editor.mask.sum(), editor.save("sample-A")   # doctest: +SKIP
    """

    def __init__(
        self,
        image,
        mask=None,
        geometry: Geometry | None = None,
        *,
        library=None,
        run=None,
        max_display: int = 768,
    ):
        import bqplot

        self.image = np.asarray(image, dtype=np.float64)
        if self.image.ndim != 2:
            raise ValueError(f"image must be 2-D, got shape {self.image.shape}")
        self.geometry = geometry
        self.run = dict(run) if run else None
        self._library = library
        self._max_display = max_display
        self._arrays: dict[str, np.ndarray] = {}
        self._layers: list[dict] = []
        self._past: list[list[dict]] = []
        self._composer = Composer(cache_bytes=64 * 2**20)
        self._images = RunImages("notebook", "image", "image", self.image, self.image, 1, 1, {}, Path())
        if mask is not None:
            self._add_array(np.asarray(mask, dtype=bool), "starting mask", polarity="used", record=False)
        rows, cols = self.image.shape

        self._x = bqplot.LinearScale(min=-0.5, max=cols - 0.5)
        self._y = bqplot.LinearScale(min=-0.5, max=rows - 0.5, reverse=True)
        self._picture = widgets.Image(format="png")
        image_mark = bqplot.Image(
            image=self._picture,
            x=[-0.5, cols - 0.5],
            y=[-0.5, rows - 0.5],
            scales={"x": self._x, "y": self._y},
        )
        # The lasso picks points: a grid of them over the image, drawn invisible.
        step = max(1, max(rows, cols) // LASSO_CELLS)
        grid_r, grid_c = np.mgrid[step // 2 : rows : step, step // 2 : cols : step]
        self._grid_step = step
        self._grid = bqplot.Lines(
            x=grid_c.ravel().astype(float),
            y=grid_r.ravel().astype(float),
            scales={"x": self._x, "y": self._y},
            opacities=[0.0],
        )
        marks = [image_mark, self._grid]
        if geometry is not None:
            marks.append(
                bqplot.Scatter(
                    x=[geometry.beam_center[1]],
                    y=[geometry.beam_center[0]],
                    scales={"x": self._x, "y": self._y},
                    marker="cross",
                    colors=["orange"],
                )
            )
        self.selectors = {
            "rectangle": bqplot.interacts.BrushSelector(x_scale=self._x, y_scale=self._y, color="orange"),
            "lasso": bqplot.interacts.LassoSelector(marks=[self._grid], color="orange"),
            "brush": bqplot.interacts.BrushIntervalSelector(scale=self._x, color="orange"),
        }
        aspect = rows / cols
        self.figure = bqplot.Figure(
            marks=marks,
            axes=[
                bqplot.Axis(scale=self._x, label="col"),
                bqplot.Axis(scale=self._y, orientation="vertical", label="row"),
            ],
            interaction=self.selectors["rectangle"],
            padding_x=0,
            padding_y=0,
            fig_margin={"top": 10, "bottom": 40, "left": 50, "right": 10},
            layout=widgets.Layout(width="560px", height=f"{int(500 * aspect) + 50}px"),
        )
        self.tool = widgets.ToggleButtons(options=["rectangle", "lasso", "brush"], description="Select")
        self.tool.observe(self._on_tool, "value")
        buttons = {}
        for name, icon in (
            ("Exclude", "minus"),
            ("Include", "plus"),
            ("Threshold", "filter"),
            ("Undo", "undo"),
        ):
            buttons[name] = widgets.Button(description=name, icon=icon)
        buttons["Exclude"].on_click(lambda _: self.exclude())
        buttons["Include"].on_click(lambda _: self.include())
        buttons["Threshold"].on_click(lambda _: self.threshold(self.vmin.value, self.vmax.value))
        buttons["Undo"].on_click(lambda _: self.undo())
        self.buttons = buttons
        self.vmin = widgets.FloatText(value=0.0, description="keep ≥")
        self.vmax = widgets.FloatText(
            value=float(np.nanmax(self.image)) if self.image.size else 1.0, description="and ≤"
        )
        self.name = widgets.Text(placeholder="mask name", description="Name")
        save = widgets.Button(description="Save", icon="save")
        save.on_click(lambda _: self._save_clicked())
        self.status = widgets.Label()
        super().__init__(
            [
                self.tool,
                self.figure,
                widgets.HBox([buttons["Exclude"], buttons["Include"], buttons["Undo"]]),
                widgets.HBox([self.vmin, self.vmax, buttons["Threshold"]]),
                widgets.HBox([self.name, save]),
                self.status,
            ]
        )
        self._refresh()

    @classmethod
    def from_run(cls, catalog: str, uid: str, key: str | None = None, **kwargs) -> MaskEditor:
        """An editor on a run's average image (the frames the composer averages), with its geometry."""
        from ..context import load_run

        run = load_run(catalog, uid, image_key=key)
        mean, _, _ = reduce_frames(run.frames)
        try:
            geometry = run.geometry()
        except ValueError:
            geometry = None
        ref = {"catalog": catalog, "uid": run.uid, "key": run.image_key}
        return cls(mean, geometry=geometry, run=ref, **kwargs)

    # -- the result ---------------------------------------------------------------------------------

    @property
    def recipe(self) -> dict:
        """How :attr:`mask` is made, in the composer's recipe format."""
        recipe = {
            "version": 1,
            "shape": list(self.image.shape),
            "run": self.run,
            "layers": [dict(layer) for layer in self._layers],
            "invert": False,
            "geometry": None,
            "rois": None,
        }
        if self.geometry is not None:
            g = self.geometry
            recipe["geometry"] = {
                "source": "manual",
                "overrides": {
                    "beam_center_row": g.beam_center[0],
                    "beam_center_col": g.beam_center[1],
                    "distance_m": g.distance_m,
                    "wavelength_A": g.wavelength_A,
                    "pixel_size_m": g.pixel_sizes[1],
                },
            }
        return recipe

    @property
    def mask(self) -> np.ndarray:
        """The mask, a 2-D bool array: True = pixel used."""
        recipe = Recipe.model_validate({**self.recipe, "geometry": None, "run": None})
        inputs = Inputs(
            shape=self.image.shape,
            images=lambda: self._images,
            geometry=self._no_geometry,
            array=lambda layer: self._arrays[layer.upload],
        )
        return self._composer.compose(recipe, inputs).mask

    @staticmethod
    def _no_geometry() -> ResolvedGeometry:
        raise ValueError("the notebook editor draws no geometry-based layers")

    # -- editing ------------------------------------------------------------------------------------

    def _record(self) -> None:
        self._past.append([dict(layer) for layer in self._layers])

    def _add(self, layer: dict) -> None:
        self._record()
        self._layers.append({"id": f"w{len(self._past)}", "enabled": True, **layer})
        self._refresh()

    def _add_array(self, nonzero: np.ndarray, source: str, polarity: str, record: bool = True) -> None:
        ident = upload_id(nonzero)
        self._arrays[ident] = nonzero
        layer = {"kind": "upload", "upload": ident, "source": source, "polarity": polarity, "mode": "exclude"}
        if record:
            self._add(layer)
        else:
            self._layers.append({"id": "w0", "enabled": True, **layer})

    def _selection(self) -> dict | np.ndarray | None:
        """The current selection as a rectangle layer (rectangle, brush), or a bool array (lasso)."""
        rows = self.image.shape[0]
        if self.tool.value == "rectangle":
            sel = self.selectors["rectangle"]
            if sel.selected_x is None or len(sel.selected_x) < 2:
                return None
            (c0, c1), (r0, r1) = sorted(sel.selected_x), sorted(sel.selected_y)
            return {
                "kind": "rectangle",
                "row0": float(r0),
                "col0": float(c0),
                "row1": float(r1),
                "col1": float(c1),
            }
        if self.tool.value == "brush":
            sel = self.selectors["brush"]
            if sel.selected is None or len(sel.selected) < 2:
                return None
            c0, c1 = sorted(sel.selected)
            return {
                "kind": "rectangle",
                "row0": -0.5,
                "col0": float(c0),
                "row1": rows - 0.5,
                "col1": float(c1),
            }
        picked = self._grid.selected
        if picked is None or len(picked) == 0:
            return None
        region = np.zeros(self.image.shape, bool)
        half = self._grid_step / 2
        for index in np.asarray(picked, dtype=int):
            r, c = self._grid.y[index], self._grid.x[index]
            top, left = max(0, int(r - half + 0.5)), max(0, int(c - half + 0.5))
            region[top : int(r + half + 0.5), left : int(c + half + 0.5)] = True
        return region

    def _apply(self, mode: str) -> None:
        selection = self._selection()
        if selection is None:
            self.status.value = "Select a region first."
            return
        if isinstance(selection, dict):
            self._add({**selection, "mode": mode})
        else:
            ident = upload_id(selection)
            self._arrays[ident] = selection
            self._add(
                {"kind": "upload", "upload": ident, "source": "lasso", "polarity": "masked", "mode": mode}
            )
        # The selection is used up: clear it here and in the figure.
        self._grid.selected = None
        rectangle, brush = self.selectors["rectangle"], self.selectors["brush"]
        rectangle.selected_x = rectangle.selected_y = None
        brush.selected = None
        rectangle.reset()
        brush.reset()

    def exclude(self) -> None:
        """Mask the selected pixels."""
        self._apply("exclude")

    def include(self) -> None:
        """Use the selected pixels again."""
        self._apply("include")

    def threshold(self, vmin: float | None = None, vmax: float | None = None) -> None:
        """Mask pixels below ``vmin`` or above ``vmax`` (or not finite)."""
        self._add({"kind": "value_range", "vmin": vmin, "vmax": vmax, "mode": "exclude"})

    def undo(self) -> None:
        """Take back the last step."""
        if self._past:
            self._layers = self._past.pop()
            self._refresh()

    def save(self, name: str, *, overwrite: bool = False) -> Path:
        """Save :attr:`mask` and :attr:`recipe` in the mask library as ``name``; returns its folder.

        Layers computed from this image (thresholds) are kept as arrays when the image is not a
        run's, so the saved recipe reproduces the mask without it.
        """
        mask = self.mask
        recipe = self.recipe
        sources = {}
        layers = []
        for layer in recipe["layers"]:
            if layer["kind"] == "value_range" and self.run is None:
                region = ~self._composer.compose(
                    Recipe.model_validate(
                        {"shape": self.image.shape, "layers": [{**layer, "mode": "exclude"}]}
                    ),
                    Inputs(self.image.shape, lambda: self._images, self._no_geometry, lambda _: None),
                ).mask
                ident = upload_id(region)
                self._arrays[ident] = region
                layer = {
                    **layer,
                    "kind": "upload",
                    "upload": ident,
                    "source": "threshold",
                    "polarity": "masked",
                }
                layer.pop("vmin")
                layer.pop("vmax")
            if layer["kind"] == "upload":
                sources[f"upload/{layer['upload']}.npy"] = self._arrays[layer["upload"]]
            layers.append(layer)
        recipe["layers"] = layers
        document = Recipe.model_validate(recipe).model_dump(mode="json")
        document["convention"] = CONVENTION
        document["counts"] = {"used": int(mask.sum()), "total": int(mask.size)}
        folder = self.library.save(name, mask, document, sources=sources, overwrite=overwrite)
        self.status.value = f"Saved {name} in {folder.parent}."
        return folder

    @property
    def library(self) -> MaskLibrary:
        """The library :meth:`save` writes to."""
        if isinstance(self._library, MaskLibrary):
            return self._library
        if self._library is not None:
            return MaskLibrary(self._library)
        from ..context import settings

        return MaskLibrary(settings().masks_dir)

    def _save_clicked(self) -> None:
        from ..errors import RaydataError

        try:
            self.save(self.name.value.strip())
        except RaydataError as exc:
            self.status.value = f"{exc.error}: {exc.detail}"

    def _on_tool(self, change) -> None:
        self.figure.interaction = self.selectors[change["new"]]

    def _refresh(self) -> None:
        mask = self.mask
        self._picture.value = _png(self.image, mask, "log", self._max_display)
        masked = int(mask.size - mask.sum())
        self.status.value = f"{masked:,} of {mask.size:,} pixels masked, {len(self._layers)} layers"
        self.buttons["Undo"].disabled = not self._past
