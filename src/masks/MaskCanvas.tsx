import React, {
  useCallback,
  useEffect,
  useReducer,
  useRef,
  useState
} from 'react';

import { ILayer } from './api';
import { colorize, lookupTable, paintBits, paintMask } from './colormap';
import { MaskComposerModel, newLayerId } from './model';
import {
  dragHandle,
  handles,
  IDrawable,
  IPoint,
  isDrawable,
  polygonFrom,
  shapeFromDrag,
  translate
} from './shapes';

/** Pan and zoom of the image in the view: screen = offset + scale * image pixel edge coordinate. */
interface IView {
  scale: number;
  x: number;
  y: number;
}

type Gesture =
  | { kind: 'pan'; startX: number; startY: number; view: IView }
  | { kind: 'draw'; start: IPoint }
  | { kind: 'move'; start: IPoint; layer: IDrawable }
  | { kind: 'handle'; name: string; layer: IDrawable };

/** An RGBA colour from a JupyterLab CSS variable, so overlays follow the theme. */
function themeColor(
  name: string,
  alpha: number,
  element: Element
): [number, number, number, number] {
  const probe = document.createElement('span');
  probe.style.color = `var(${name})`;
  element.appendChild(probe);
  const text = getComputedStyle(probe).color;
  probe.remove();
  const parts = text.match(/[\d.]+/g)?.map(Number) ?? [255, 0, 0];
  return [parts[0], parts[1], parts[2], Math.round(alpha * 255)];
}

const MIN_SCALE = 0.02;
const MAX_SCALE = 64;

/** Handle radius and label size on screen, in CSS pixels. */
const HANDLE_PX = 5;
const LABEL_PX = 11;

function ShapeOutline(props: {
  layer: IDrawable;
  scale: number;
  selected: boolean;
  onBody: (e: React.PointerEvent, layer: IDrawable) => void;
  onHandle: (e: React.PointerEvent, layer: IDrawable, name: string) => void;
}): JSX.Element {
  const { layer, scale, selected } = props;
  const common = {
    className: 'jp-raydata-Shape',
    'data-mode': layer.mode,
    'data-enabled': String(layer.enabled),
    'data-selected': String(selected),
    'data-layer': layer.id,
    vectorEffect: 'non-scaling-stroke',
    onPointerDown: (e: React.PointerEvent) => props.onBody(e, layer)
  } as const;
  let body: JSX.Element;
  switch (layer.kind) {
    case 'circle':
    case 'beamstop':
      body = (
        <circle
          {...common}
          cx={(layer.col ?? 0) + 0.5}
          cy={(layer.row ?? 0) + 0.5}
          r={layer.radius}
        />
      );
      break;
    case 'annulus':
      body = (
        <g {...common}>
          {[layer.r_outer, layer.r_inner].map((r, i) => (
            <circle
              key={i}
              cx={layer.col + 0.5}
              cy={layer.row + 0.5}
              r={r}
              vectorEffect="non-scaling-stroke"
            />
          ))}
        </g>
      );
      break;
    case 'rectangle':
      body = (
        <rect
          {...common}
          x={Math.min(layer.col0, layer.col1) + 0.5}
          y={Math.min(layer.row0, layer.row1) + 0.5}
          width={Math.abs(layer.col1 - layer.col0)}
          height={Math.abs(layer.row1 - layer.row0)}
        />
      );
      break;
    case 'line': {
      const ends = {
        x1: layer.col0 + 0.5,
        y1: layer.row0 + 0.5,
        x2: layer.col1 + 0.5,
        y2: layer.row1 + 0.5
      };
      // The line's width in pixels, and its centre line drawn a screen pixel wide at any zoom.
      body = (
        <g {...common}>
          <line
            {...ends}
            strokeWidth={layer.width}
            className="jp-raydata-Shape-stroke"
          />
          <line {...ends} vectorEffect="non-scaling-stroke" />
        </g>
      );
      break;
    }
    case 'polygon':
      body = (
        <polygon
          {...common}
          points={layer.vertices
            .map(([r, c]) => `${c + 0.5},${r + 0.5}`)
            .join(' ')}
        />
      );
      break;
  }
  return (
    <g>
      {body}
      {selected &&
        handles(layer).map(h => (
          <circle
            key={h.name}
            className="jp-raydata-Handle"
            data-handle={h.name}
            cx={h.col + 0.5}
            cy={h.row + 0.5}
            r={HANDLE_PX / scale}
            vectorEffect="non-scaling-stroke"
            onPointerDown={e => props.onHandle(e, layer, h.name)}
          />
        ))}
    </g>
  );
}

/**
 * The drawing surface: the run's average image colour-mapped in the browser, the mask as a
 * translucent overlay, ROI outlines and numbers, and the shape layers as editable vector outlines.
 */
export function MaskCanvas(props: { model: MaskComposerModel }): JSX.Element {
  const { model } = props;
  const viewRef = useRef<HTMLDivElement>(null);
  const imageRef = useRef<HTMLCanvasElement>(null);
  const maskRef = useRef<HTMLCanvasElement>(null);
  const outlineRef = useRef<HTMLCanvasElement>(null);
  const readoutRef = useRef<HTMLSpanElement>(null);
  const gesture = useRef<Gesture | null>(null);
  // The image follows the view's size until the user zooms or pans.
  const autoFit = useRef(true);
  const [view, setView] = useState<IView>({ scale: 1, x: 0, y: 0 });
  const [draftShape, setDraftShape] = useState<ILayer | null>(null);
  const [, rerender] = useReducer((n: number) => n + 1, 0);
  const image = model.image;
  const rows = image?.rows ?? 1;
  const cols = image?.cols ?? 1;

  const fit = useCallback(() => {
    const box = viewRef.current?.getBoundingClientRect();
    if (!box || !model.image) {
      return;
    }
    const scale = Math.min(
      box.width / model.image.cols,
      box.height / model.image.rows
    );
    setView({
      scale,
      x: (box.width - scale * model.image.cols) / 2,
      y: (box.height - scale * model.image.rows) / 2
    });
  }, [model]);

  const paintImage = useCallback(() => {
    const canvas = imageRef.current;
    const img = model.image;
    if (!canvas || !img) {
      return;
    }
    const started = performance.now();
    const ctx = canvas.getContext('2d')!;
    const pixels = ctx.createImageData(img.cols, img.rows);
    const [lo, hi] = model.range;
    colorize(
      img.data,
      model.display.scale,
      lo,
      hi,
      lookupTable(model.display.colormap),
      pixels.data
    );
    ctx.putImageData(pixels, 0, 0);
    canvas.dataset.renderMs = (performance.now() - started).toFixed(1);
    canvas.dataset.status = 'ready';
  }, [model]);

  const paintOverlays = useCallback(() => {
    const img = model.image;
    const bits = model.previewBits;
    const maskCanvas = maskRef.current;
    const outlineCanvas = outlineRef.current;
    if (!img || !maskCanvas || !outlineCanvas) {
      return;
    }
    const count = img.rows * img.cols;
    const maskCtx = maskCanvas.getContext('2d')!;
    const outlineCtx = outlineCanvas.getContext('2d')!;
    maskCtx.clearRect(0, 0, img.cols, img.rows);
    outlineCtx.clearRect(0, 0, img.cols, img.rows);
    const sameShape =
      model.preview?.shape[0] === img.rows &&
      model.preview?.shape[1] === img.cols;
    if (!bits || !sameShape) {
      return;
    }
    if (model.display.showMask) {
      const pixels = maskCtx.createImageData(img.cols, img.rows);
      paintMask(
        bits.mask,
        count,
        themeColor('--jp-error-color1', model.display.opacity, maskCanvas),
        pixels.data
      );
      maskCtx.putImageData(pixels, 0, 0);
    }
    if (model.display.showRois && bits.outline) {
      const pixels = outlineCtx.createImageData(img.cols, img.rows);
      paintBits(
        bits.outline,
        count,
        themeColor('--jp-warn-color0', 0.9, outlineCanvas),
        pixels.data
      );
      outlineCtx.putImageData(pixels, 0, 0);
    }
    maskCanvas.dataset.used = String(model.preview?.used ?? '');
  }, [model]);

  useEffect(() => {
    const onChanged = () => rerender();
    const onImage = () => {
      paintImage();
      paintOverlays();
    };
    model.changed.connect(onChanged);
    model.imageChanged.connect(onImage);
    model.previewChanged.connect(paintOverlays);
    return () => {
      model.changed.disconnect(onChanged);
      model.imageChanged.disconnect(onImage);
      model.previewChanged.disconnect(paintOverlays);
    };
  }, [model, paintImage, paintOverlays]);

  // A new image: paint it and fit it into the view.
  useEffect(() => {
    paintImage();
    paintOverlays();
    autoFit.current = true;
    fit();
  }, [image, paintImage, paintOverlays, fit]);

  useEffect(() => {
    const view = viewRef.current;
    if (!view) {
      return;
    }
    const observer = new ResizeObserver(() => autoFit.current && fit());
    observer.observe(view);
    return () => observer.disconnect();
  }, [fit]);

  const toImage = (e: { clientX: number; clientY: number }): IPoint => {
    const box = viewRef.current!.getBoundingClientRect();
    return {
      col: (e.clientX - box.left - view.x) / view.scale - 0.5,
      row: (e.clientY - box.top - view.y) / view.scale - 0.5
    };
  };

  const onWheel = (e: React.WheelEvent) => {
    autoFit.current = false;
    const box = viewRef.current!.getBoundingClientRect();
    const factor = Math.exp(-e.deltaY * 0.0015);
    const scale = Math.min(MAX_SCALE, Math.max(MIN_SCALE, view.scale * factor));
    const px = e.clientX - box.left;
    const py = e.clientY - box.top;
    // Keep the image point under the cursor in place.
    setView({
      scale,
      x: px - ((px - view.x) * scale) / view.scale,
      y: py - ((py - view.y) * scale) / view.scale
    });
  };

  const capture = (e: React.PointerEvent) => {
    (e.currentTarget as Element).setPointerCapture?.(e.pointerId);
    viewRef.current?.focus();
  };

  const onBackgroundDown = (e: React.PointerEvent) => {
    if (!image) {
      return;
    }
    capture(e);
    const tool = model.tool;
    if (e.button !== 0 || tool === 'pan') {
      model.select(null);
      autoFit.current = false;
      gesture.current = {
        kind: 'pan',
        startX: e.clientX,
        startY: e.clientY,
        view
      };
      return;
    }
    const point = toImage(e);
    if (tool === 'polygon') {
      model.setDraft([...model.draft, point]);
      return;
    }
    gesture.current = { kind: 'draw', start: point };
  };

  const onBodyDown = (e: React.PointerEvent, layer: IDrawable) => {
    if (model.tool !== 'pan' || e.button !== 0) {
      return; // drawing tools draw over shapes; the background handler takes it
    }
    e.stopPropagation();
    capture(e);
    model.select(layer.id);
    model.beginGesture();
    gesture.current = { kind: 'move', start: toImage(e), layer };
  };

  const onHandleDown = (
    e: React.PointerEvent,
    layer: IDrawable,
    name: string
  ) => {
    e.stopPropagation();
    capture(e);
    model.beginGesture();
    gesture.current = { kind: 'handle', name, layer };
  };

  const onPointerMove = (e: React.PointerEvent) => {
    if (image && readoutRef.current) {
      const p = toImage(e);
      const r = Math.round(p.row);
      const c = Math.round(p.col);
      readoutRef.current.textContent =
        r >= 0 && r < image.rows && c >= 0 && c < image.cols
          ? `row ${r}, col ${c}: ${image.data[r * image.cols + c].toPrecision(4)}`
          : '';
    }
    const g = gesture.current;
    if (!g) {
      return;
    }
    if (g.kind === 'pan') {
      setView({
        ...g.view,
        x: g.view.x + e.clientX - g.startX,
        y: g.view.y + e.clientY - g.startY
      });
    } else if (
      g.kind === 'draw' &&
      model.tool !== 'pan' &&
      model.tool !== 'polygon'
    ) {
      setDraftShape(shapeFromDrag(model.tool, g.start, toImage(e), 'draft'));
    } else if (g.kind === 'move') {
      const p = toImage(e);
      model.replaceLayer(
        translate(g.layer, p.row - g.start.row, p.col - g.start.col),
        true
      );
    } else if (g.kind === 'handle') {
      model.replaceLayer(dragHandle(g.layer, g.name, toImage(e)), true);
    }
  };

  const onPointerUp = (e: React.PointerEvent) => {
    const g = gesture.current;
    gesture.current = null;
    if (!g) {
      return;
    }
    if (g.kind === 'draw' && model.tool !== 'pan' && model.tool !== 'polygon') {
      const shape = shapeFromDrag(
        model.tool,
        g.start,
        toImage(e),
        newLayerId(model.tool)
      );
      setDraftShape(null);
      if (shape) {
        model.addLayer(shape);
      }
    } else if (g.kind === 'move' || g.kind === 'handle') {
      model.endGesture();
    }
  };

  const finishPolygon = () => {
    // A double-click also clicked twice: drop vertices that repeat the one before.
    const points = model.draft.filter(
      (p, i, all) =>
        i === 0 ||
        Math.hypot(p.row - all[i - 1].row, p.col - all[i - 1].col) > 0.5
    );
    const shape = polygonFrom(points, newLayerId('polygon'));
    model.setDraft([]);
    if (shape) {
      model.addLayer(shape);
    }
  };

  const onKeyDown = (e: React.KeyboardEvent) => {
    const accel = e.ctrlKey || e.metaKey;
    if (accel && e.key.toLowerCase() === 'z') {
      if (e.shiftKey) {
        model.redo();
      } else {
        model.undo();
      }
    } else if (accel && e.key.toLowerCase() === 'y') {
      model.redo();
    } else if (
      (e.key === 'Delete' || e.key === 'Backspace') &&
      model.selected
    ) {
      model.removeLayer(model.selected);
    } else if (e.key === 'Escape') {
      model.setDraft([]);
      model.select(null);
    } else if (e.key === 'Enter' && model.draft.length) {
      finishPolygon();
    } else {
      return;
    }
    e.preventDefault();
    e.stopPropagation();
  };

  const zoomBy = (factor: number) => {
    const box = viewRef.current!.getBoundingClientRect();
    onWheel({
      deltaY: -Math.log(factor) / 0.0015,
      clientX: box.left + box.width / 2,
      clientY: box.top + box.height / 2
    } as React.WheelEvent);
  };

  const geometry = model.geometry;
  const dynamic = model.preview?.dynamic;
  const drawables = model.recipe.layers.filter(isDrawable);
  const shown =
    draftShape && isDrawable(draftShape)
      ? [...drawables, draftShape]
      : drawables;
  const beamstops = model.recipe.layers.filter(
    l => l.kind === 'beamstop' && (l.row === null || l.col === null)
  );

  return (
    <div className="jp-raydata-MaskCanvas">
      <div className="jp-raydata-MaskCanvas-toolbar">
        <button
          className="jp-mod-styled"
          onClick={() => {
            autoFit.current = true;
            fit();
          }}
          title="Fit the image in the view"
        >
          Fit
        </button>
        <button
          className="jp-mod-styled"
          onClick={() => {
            autoFit.current = false;
            setView({ ...view, scale: 1 });
          }}
          title="One image pixel per screen pixel"
        >
          1:1
        </button>
        <button
          className="jp-mod-styled"
          aria-label="Zoom in"
          onClick={() => zoomBy(1.5)}
        >
          +
        </button>
        <button
          className="jp-mod-styled"
          aria-label="Zoom out"
          onClick={() => zoomBy(1 / 1.5)}
        >
          −
        </button>
        <span className="jp-raydata-muted">
          {Math.round(view.scale * 100)}%
        </span>
        <span className="jp-raydata-MaskCanvas-readout" ref={readoutRef} />
      </div>
      <div
        className="jp-raydata-MaskCanvas-view"
        ref={viewRef}
        tabIndex={0}
        data-tool={model.tool}
        data-testid="mask-canvas"
        onWheel={onWheel}
        onPointerDown={onBackgroundDown}
        onPointerMove={onPointerMove}
        onPointerUp={onPointerUp}
        onDoubleClick={() => model.tool === 'polygon' && finishPolygon()}
        onKeyDown={onKeyDown}
        onContextMenu={e => e.preventDefault()}
      >
        <div
          className="jp-raydata-MaskCanvas-content"
          style={{
            width: cols,
            height: rows,
            transform: `translate(${view.x}px, ${view.y}px) scale(${view.scale})`
          }}
        >
          <canvas
            ref={imageRef}
            width={cols}
            height={rows}
            data-testid="mask-image"
            data-status="loading"
          />
          <canvas
            ref={maskRef}
            width={cols}
            height={rows}
            data-testid="mask-overlay"
          />
          <canvas ref={outlineRef} width={cols} height={rows} />
          <svg
            className="jp-raydata-MaskCanvas-shapes"
            width={cols}
            height={rows}
            viewBox={`0 0 ${cols} ${rows}`}
          >
            {shown.map(layer => (
              <ShapeOutline
                key={layer.id}
                layer={layer}
                scale={view.scale}
                selected={layer.id === model.selected}
                onBody={onBodyDown}
                onHandle={onHandleDown}
              />
            ))}
            {geometry &&
              beamstops.map(layer => (
                <circle
                  key={layer.id}
                  className="jp-raydata-Shape"
                  data-mode={layer.mode}
                  data-enabled={String(layer.enabled)}
                  cx={geometry.beam_center_col + 0.5}
                  cy={geometry.beam_center_row + 0.5}
                  r={(layer as { radius: number }).radius}
                  vectorEffect="non-scaling-stroke"
                  pointerEvents="none"
                />
              ))}
            {model.draft.length > 0 && (
              <polyline
                className="jp-raydata-Shape"
                data-mode="exclude"
                points={model.draft
                  .map(p => `${p.col + 0.5},${p.row + 0.5}`)
                  .join(' ')}
                vectorEffect="non-scaling-stroke"
              />
            )}
            {geometry && (
              <g
                className="jp-raydata-BeamCenter"
                transform={`translate(${geometry.beam_center_col + 0.5} ${geometry.beam_center_row + 0.5})`}
                pointerEvents="none"
              >
                <line
                  x1={-8 / view.scale}
                  x2={8 / view.scale}
                  vectorEffect="non-scaling-stroke"
                />
                <line
                  y1={-8 / view.scale}
                  y2={8 / view.scale}
                  vectorEffect="non-scaling-stroke"
                />
              </g>
            )}
            {model.display.showRois &&
              dynamic?.anchors &&
              dynamic.anchors.length <= 400 &&
              dynamic.anchors.map(([r, c], i) => (
                <text
                  key={i}
                  className="jp-raydata-RoiLabel"
                  x={c + 0.5}
                  y={r + 0.5}
                  fontSize={LABEL_PX / view.scale}
                  pointerEvents="none"
                >
                  {i + 1}
                </text>
              ))}
          </svg>
        </div>
      </div>
    </div>
  );
}
