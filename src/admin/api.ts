// The admin JSON API from the page: same-origin requests with the session cookie; a 401 sends the
// person back to the login form.

export class ApiError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

let unauthorized: () => void = () => {};

export function onUnauthorized(handler: () => void): void {
  unauthorized = handler;
}

export async function api<T = any>(path: string, method = "GET", body?: unknown): Promise<T> {
  const init: RequestInit = { method, credentials: "same-origin", headers: { accept: "application/json" } };
  if (method !== "GET") {
    init.headers = { ...init.headers, "content-type": "application/json" };
    init.body = JSON.stringify(body ?? {});
  }
  const response = await fetch(`/admin/api${path}`, init);
  const data = await response.json().catch(() => undefined);
  if (!response.ok) {
    if (response.status === 401 && path !== "/login") unauthorized();
    throw new ApiError(response.status, data?.error?.message ?? `${response.status} ${response.statusText}`);
  }
  return data as T;
}
