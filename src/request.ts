import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

/** The route prefix of the Raydata REST API on the Jupyter server. */
export const API_PREFIX = 'raydata/api';

/**
 * An error answered by the Raydata server: a short title and a sentence a scientist can act on.
 */
export class RaydataAPIError extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    readonly detail: string
  ) {
    super(detail ? `${error}: ${detail}` : error);
    this.name = 'RaydataAPIError';
  }
}

/**
 * Query-string arguments; `undefined` values are left out, arrays repeat the key.
 */
export type QueryArgs = Record<
  string,
  string | number | boolean | string[] | undefined
>;

/** Build `endpoint?query` with proper escaping (keys and values may contain spaces). */
export function withQuery(endpoint: string, query: QueryArgs = {}): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined) {
      continue;
    }
    for (const item of Array.isArray(value) ? value : [value]) {
      params.append(key, String(item));
    }
  }
  const text = params.toString();
  return text ? `${endpoint}?${text}` : endpoint;
}

async function fetchAPI(
  endpoint: string,
  init: RequestInit
): Promise<Response> {
  const settings = ServerConnection.makeSettings();
  const url = URLExt.join(settings.baseUrl, API_PREFIX, endpoint);
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(url, init, settings);
  } catch (error) {
    throw new RaydataAPIError(
      0,
      'Cannot reach the Jupyter server',
      String(error)
    );
  }
  if (!response.ok) {
    let body: { error?: string; detail?: string } = {};
    try {
      body = await response.json();
    } catch {
      // Not JSON (a proxy's error page): the status text is all we have.
    }
    throw new RaydataAPIError(
      response.status,
      body.error ?? response.statusText,
      body.detail ?? ''
    );
  }
  return response;
}

/**
 * Call a Raydata JSON endpoint, e.g. `requestAPI<IHealth>('health')`.
 *
 * @throws RaydataAPIError with the server's `error` and `detail` on any non-2xx answer.
 */
export async function requestAPI<T>(
  endpoint: string,
  init: RequestInit = {}
): Promise<T> {
  const response = await fetchAPI(endpoint, init);
  return (await response.json()) as T;
}

/**
 * Fetch a binary Raydata resource (a PNG preview) as a Blob.
 */
export async function requestBlob(
  endpoint: string,
  init: RequestInit = {}
): Promise<Blob> {
  const response = await fetchAPI(endpoint, init);
  return response.blob();
}
