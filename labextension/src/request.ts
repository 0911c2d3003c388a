import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

/** An error reply of the API: ``{"error": "RunNotFound", "message": "..."}``. */
export class MlopsRequestError extends Error {
  constructor(
    message: string,
    readonly status: number
  ) {
    super(message);
  }
}

/**
 * GET a route under /mlops-jupyter/ with the server's token and XSRF cookie.
 *
 * @param endpoint path below /mlops-jupyter/, e.g. ``runs`` or ``runs/abc/lineage``
 * @param params query parameters; array values repeat the key
 */
export async function requestAPI<T>(
  endpoint: string,
  params: Record<string, string | string[] | undefined> = {}
): Promise<T> {
  const settings = ServerConnection.makeSettings();
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    for (const v of Array.isArray(value) ? value : value === undefined ? [] : [value]) {
      query.append(key, v);
    }
  }
  const qs = query.toString();
  const url = URLExt.join(settings.baseUrl, 'mlops-jupyter', endpoint) + (qs ? `?${qs}` : '');
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(url, {}, settings);
  } catch (error) {
    throw new ServerConnection.NetworkError(error as TypeError);
  }
  const text = await response.text();
  let data: any = text;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    // not JSON: keep the text for the message
  }
  if (!response.ok) {
    const message = (data && data.message) || response.statusText;
    throw new MlopsRequestError(message, response.status);
  }
  return data as T;
}
