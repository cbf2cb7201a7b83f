import React, { useEffect, useState } from 'react';

import { IRunDetail } from '../api';
import { Choice } from '../components/Choice';
import { RaydataAPIError, requestBlob } from '../request';
import { IPreviewOptions, RunBrowserModel } from './model';

const KINDS: Record<IPreviewOptions['kind'], string> = {
  average: 'Average',
  frame: 'Frame'
};
const SCALES: Record<IPreviewOptions['scale'], string> = {
  log: 'Log',
  linear: 'Linear'
};

/** Pixels on the long side: crisp in a sidebar, small enough to cache. */
const MAX_SIZE = 512;

/** Frames in the run's first image series, from its data key shape (frames, rows, cols). */
function frameCount(detail: IRunDetail): number {
  for (const stream of detail.streams) {
    for (const key of stream.data_keys) {
      if (key.image && key.shape.length >= 3) {
        return key.shape[key.shape.length - 3] * (stream.events ?? 1);
      }
    }
  }
  return 1;
}

type ImageState =
  | { status: 'loading' }
  | { status: 'ready'; url: string }
  | { status: 'error'; message: string };

/**
 * The run's preview: the average image or one frame, log or linear scale, made by the server.
 */
export function PreviewImage(props: {
  model: RunBrowserModel;
  detail: IRunDetail;
}): JSX.Element {
  const { model, detail } = props;
  const [options, setOptions] = useState<IPreviewOptions>({
    kind: 'average',
    index: 0,
    scale: 'log',
    maxSize: MAX_SIZE
  });
  const [image, setImage] = useState<ImageState>({ status: 'loading' });
  const frames = frameCount(detail);

  useEffect(() => {
    if (detail.image_keys.length === 0) {
      return;
    }
    let url: string | null = null;
    let current = true;
    setImage({ status: 'loading' });
    requestBlob(model.previewEndpoint(detail.uid, options))
      .then(blob => {
        url = URL.createObjectURL(blob);
        if (current) {
          setImage({ status: 'ready', url });
        }
      })
      .catch(error => {
        if (current) {
          const message =
            error instanceof RaydataAPIError
              ? `${error.error}: ${error.detail}`
              : String(error);
          setImage({ status: 'error', message });
        }
      });
    return () => {
      current = false;
      if (url) {
        URL.revokeObjectURL(url);
      }
    };
  }, [model, detail.uid, options.kind, options.index, options.scale]);

  if (detail.image_keys.length === 0) {
    return <p className="jp-raydata-muted">This run recorded no images.</p>;
  }
  const set = (patch: Partial<IPreviewOptions>) =>
    setOptions({ ...options, ...patch });
  return (
    <div className="jp-raydata-Preview">
      <div className="jp-raydata-Preview-controls">
        <Choice
          label="Preview kind"
          value={options.kind}
          options={KINDS}
          onChange={kind => set({ kind })}
        />
        <Choice
          label="Preview scale"
          value={options.scale}
          options={SCALES}
          onChange={scale => set({ scale })}
        />
        {options.kind === 'frame' && (
          <input
            type="number"
            aria-label="Frame index"
            min={0}
            max={frames - 1}
            value={options.index}
            onChange={e =>
              set({
                index: Math.min(frames - 1, Math.max(0, Number(e.target.value)))
              })
            }
          />
        )}
      </div>
      {image.status === 'loading' && (
        <p className="jp-raydata-muted">Rendering preview…</p>
      )}
      {image.status === 'error' && (
        <p className="jp-raydata-Error" role="alert">
          {image.message}
        </p>
      )}
      {image.status === 'ready' && (
        <img
          className="jp-raydata-Preview-image"
          src={image.url}
          alt={`${options.kind} image of run ${detail.uid}`}
        />
      )}
    </div>
  );
}
