import React, { useEffect, useState } from 'react';

import { ILayer, ILayerEffect, LayerKind, Mode, Polarity } from './api';
import { NumberField } from './fields';
import { MaskComposerModel } from './model';

/** What each layer kind is called in the list. */
export const KIND_LABELS: Record<LayerKind, string> = {
  circle: 'Circle',
  annulus: 'Annulus',
  rectangle: 'Rectangle',
  polygon: 'Polygon',
  line: 'Line',
  beamstop: 'Beam stop',
  q_range: 'q range',
  phi_range: 'φ range',
  hot_pixels: 'Hot pixels',
  dead_pixels: 'Dead pixels',
  never_counted: 'Never counted',
  value_range: 'Value range',
  ring_outliers: 'Ring outliers',
  library: 'Library mask',
  upload: 'Uploaded mask'
};

interface INumberSpec {
  key: string;
  label: string;
  optional?: boolean;
  placeholder?: string;
}

const CENTRE: INumberSpec[] = [
  { key: 'row', label: 'Row' },
  { key: 'col', label: 'Col' }
];

const CORNERS: INumberSpec[] = [
  { key: 'row0', label: 'Row 0' },
  { key: 'col0', label: 'Col 0' },
  { key: 'row1', label: 'Row 1' },
  { key: 'col1', label: 'Col 1' }
];

/** The numbers each kind is edited by. */
const NUMBERS: Partial<Record<LayerKind, INumberSpec[]>> = {
  circle: [...CENTRE, { key: 'radius', label: 'Radius' }],
  annulus: [
    ...CENTRE,
    { key: 'r_inner', label: 'Inner r' },
    { key: 'r_outer', label: 'Outer r' }
  ],
  rectangle: CORNERS,
  line: [...CORNERS, { key: 'width', label: 'Width' }],
  beamstop: [
    { key: 'row', label: 'Row', optional: true, placeholder: 'beam' },
    { key: 'col', label: 'Col', optional: true, placeholder: 'beam' },
    { key: 'radius', label: 'Radius' },
    { key: 'arm_angle', label: 'Arm °', optional: true, placeholder: 'none' },
    { key: 'arm_width', label: 'Arm width' }
  ],
  q_range: [
    { key: 'q_min', label: 'q min (Å⁻¹)', optional: true, placeholder: '0' },
    { key: 'q_max', label: 'q max (Å⁻¹)', optional: true, placeholder: '∞' }
  ],
  phi_range: [
    { key: 'start', label: 'From °' },
    { key: 'stop', label: 'To °' }
  ],
  hot_pixels: [
    { key: 'sigma', label: 'σ' },
    { key: 'window', label: 'Window' }
  ],
  dead_pixels: [
    { key: 'fraction', label: 'Fraction' },
    { key: 'window', label: 'Window' }
  ],
  value_range: [
    { key: 'vmin', label: 'Min', optional: true, placeholder: 'none' },
    { key: 'vmax', label: 'Max', optional: true, placeholder: 'none' }
  ],
  ring_outliers: [
    { key: 'n_rings', label: 'Rings' },
    { key: 'sigma', label: 'σ' }
  ]
};

/** A short description of a layer for its row in the list. */
export function describe(layer: ILayer): string {
  switch (layer.kind) {
    case 'circle':
      return `r ${layer.radius} at (${layer.row}, ${layer.col})`;
    case 'annulus':
      return `${layer.r_inner}–${layer.r_outer} at (${layer.row}, ${layer.col})`;
    case 'rectangle':
      return `(${layer.row0}, ${layer.col0})–(${layer.row1}, ${layer.col1})`;
    case 'polygon':
      return `${layer.vertices.length} vertices`;
    case 'line':
      return `width ${layer.width}`;
    case 'beamstop':
      return `r ${layer.radius}${layer.arm_angle !== null ? `, arm ${layer.arm_angle}°` : ''}`;
    case 'q_range':
      return `${layer.q_min ?? 0} ≤ q < ${layer.q_max ?? '∞'}`;
    case 'phi_range':
      return `${layer.start}° to ${layer.stop}°`;
    case 'hot_pixels':
      return `> ${layer.sigma} σ`;
    case 'dead_pixels':
      return `≤ ${layer.fraction} × neighbours`;
    case 'never_counted':
      return 'zero in every frame read';
    case 'value_range':
      return `outside ${layer.vmin ?? '−∞'} … ${layer.vmax ?? '∞'}`;
    case 'ring_outliers':
      return `${layer.n_rings} rings, > ${layer.sigma} σ`;
    case 'library':
      return layer.name;
    case 'upload':
      return `${layer.source} (non-zero = ${layer.polarity})`;
  }
}

function VerticesField(props: {
  vertices: [number, number][];
  onCommit: (vertices: [number, number][]) => void;
}): JSX.Element {
  const shown = props.vertices.map(([r, c]) => `${r}, ${c}`).join('; ');
  const [text, setText] = useState(shown);
  useEffect(() => setText(shown), [shown]);
  const commit = () => {
    const points = text
      .split(';')
      .map(part => part.split(',').map(v => Number(v.trim())))
      .filter(p => p.length === 2 && p.every(Number.isFinite)) as [
      number,
      number
    ][];
    if (points.length >= 3) {
      props.onCommit(points);
    } else {
      setText(shown);
    }
  };
  return (
    <label className="jp-raydata-NumberField jp-raydata-NumberField-wide">
      <span>Vertices (row, col; …)</span>
      <textarea
        className="jp-mod-styled"
        aria-label="Vertices"
        value={text}
        onChange={e => setText(e.target.value)}
        onBlur={commit}
        onKeyDown={e => e.stopPropagation()}
      />
    </label>
  );
}

function LayerEditor(props: {
  model: MaskComposerModel;
  layer: ILayer;
}): JSX.Element {
  const { model, layer } = props;
  const numbers = NUMBERS[layer.kind] ?? [];
  const values = layer as unknown as Record<string, number | null>;
  return (
    <div className="jp-raydata-LayerEditor">
      {numbers.map(spec => (
        <NumberField
          key={spec.key}
          label={spec.label}
          value={values[spec.key]}
          optional={spec.optional}
          placeholder={spec.placeholder}
          onCommit={value =>
            model.updateLayer(layer.id, {
              [spec.key]: value
            } as Partial<ILayer>)
          }
        />
      ))}
      {layer.kind === 'polygon' && (
        <VerticesField
          vertices={layer.vertices}
          onCommit={vertices => model.updateLayer(layer.id, { vertices })}
        />
      )}
      {layer.kind === 'upload' && (
        <label className="jp-raydata-NumberField jp-raydata-NumberField-wide">
          <span>In this file, non-zero means</span>
          <select
            className="jp-mod-styled"
            aria-label="Polarity"
            value={layer.polarity}
            onChange={e =>
              model.updateLayer(layer.id, {
                polarity: e.target.value as Polarity
              })
            }
          >
            <option value="used">a used pixel (pyCHX, APS)</option>
            <option value="masked">a masked pixel (silx, pyFAI, EDF)</option>
          </select>
        </label>
      )}
    </div>
  );
}

const MOVES: [-1 | 1, string, string][] = [
  [-1, 'up', '↑'],
  [1, 'down', '↓']
];

/**
 * The recipe's layers in the order they apply: each can be switched off, set to exclude or include,
 * moved, deleted, and edited as numbers; the preview's pixel counts show beside each.
 */
export function LayerList(props: { model: MaskComposerModel }): JSX.Element {
  const { model } = props;
  const layers = model.recipe.layers;
  const effects = new Map<string, ILayerEffect>(
    (model.preview?.layers ?? []).map(e => [e.id, e])
  );
  if (layers.length === 0) {
    return (
      <p className="jp-raydata-muted">
        No layers yet: draw a shape, add a threshold or upload a mask file.
      </p>
    );
  }
  return (
    <ol className="jp-raydata-LayerList" aria-label="Layers">
      {layers.map((layer, i) => {
        const effect = effects.get(layer.id);
        const selected = layer.id === model.selected;
        return (
          <li
            key={layer.id}
            className="jp-raydata-Layer"
            data-kind={layer.kind}
            data-selected={String(selected)}
            data-enabled={String(layer.enabled)}
          >
            <div className="jp-raydata-Layer-row">
              <input
                type="checkbox"
                aria-label={`Use layer ${i + 1}`}
                checked={layer.enabled}
                onChange={e =>
                  model.updateLayer(layer.id, { enabled: e.target.checked })
                }
              />
              <button
                className="jp-raydata-Layer-name"
                onClick={() => model.select(selected ? null : layer.id)}
                title="Edit this layer's numbers"
              >
                <strong>{KIND_LABELS[layer.kind]}</strong>{' '}
                <span className="jp-raydata-muted">{describe(layer)}</span>
              </button>
              <select
                className="jp-mod-styled"
                aria-label={`Mode of layer ${i + 1}`}
                value={layer.mode}
                onChange={e =>
                  model.updateLayer(layer.id, { mode: e.target.value as Mode })
                }
              >
                <option value="exclude">exclude</option>
                <option value="include">include</option>
              </select>
              {MOVES.map(([by, word, arrow]) => (
                <button
                  key={word}
                  className="jp-raydata-IconButton"
                  aria-label={`Move layer ${i + 1} ${word}`}
                  disabled={!layers[i + by]}
                  onClick={() => model.moveLayer(layer.id, by)}
                >
                  {arrow}
                </button>
              ))}
              <button
                className="jp-raydata-IconButton"
                aria-label={`Delete layer ${i + 1}`}
                onClick={() => model.removeLayer(layer.id)}
              >
                ✕
              </button>
            </div>
            {effect && layer.enabled && (
              <div
                className="jp-raydata-Layer-effect"
                data-testid="layer-effect"
              >
                {effect.pixels.toLocaleString()} px in region ·{' '}
                {effect.masked_after.toLocaleString()} masked after
              </div>
            )}
            {selected && <LayerEditor model={model} layer={layer} />}
          </li>
        );
      })}
    </ol>
  );
}
