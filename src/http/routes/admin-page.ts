// The admin web page (src/admin/), served at /admin from assets inside the executable: the
// compiled binary carries the HTML bundle Bun built at compile time (HTMLBundle.files); run from
// source, the same bundle is built once, on the first visit. Everything comes from this origin, with
// a strict Content-Security-Policy, and gzipped once when the browser accepts it.
import { basename, join } from "node:path";
import page from "../../admin/index.html";

export interface Asset {
  body: Uint8Array;
  gzipped: Uint8Array;
  type: string;
  etag: string;
}

export const ASSET_PREFIX = "/admin/assets/";

const HEADERS = {
  "content-security-policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  "x-frame-options": "DENY",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
};

let loading: Promise<Map<string, Asset>> | undefined;

/** "/admin/" → the HTML; "/admin/assets/<name>" → the scripts and styles it names. */
export function adminAssets(): Promise<Map<string, Asset>> {
  return (loading ??= load());
}

async function load(): Promise<Map<string, Asset>> {
  const files: { name: string; type: string; html: boolean; bytes: () => Promise<ArrayBuffer> }[] = [];
  const bundle = page as { files?: { path: string; loader: string; headers: { "content-type": string } }[] };
  if (bundle.files) {
    for (const file of bundle.files) {
      files.push({ name: basename(file.path), type: file.headers["content-type"], html: file.loader === "html", bytes: () => Bun.file(file.path).arrayBuffer() });
    }
  } else {
    const built = await Bun.build({ entrypoints: [join(import.meta.dir, "..", "..", "admin", "index.html")], minify: true, publicPath: ASSET_PREFIX });
    if (!built.success) throw new AggregateError(built.logs, "the admin page did not build");
    for (const output of built.outputs) {
      files.push({ name: basename(output.path), type: output.type, html: output.type.startsWith("text/html"), bytes: () => output.arrayBuffer() });
    }
  }
  const assets = new Map<string, Asset>();
  for (const file of files) {
    let body = new Uint8Array(await file.bytes());
    if (file.html) {
      // The compiled bundle names its chunks from the root ("/chunk-….js"): they live under /admin/assets/ here.
      let text = new TextDecoder().decode(body);
      for (const other of files) if (!other.html) text = text.replaceAll(`"/${other.name}"`, `"${ASSET_PREFIX}${other.name}"`);
      body = new TextEncoder().encode(text);
    }
    const asset = { body, gzipped: Bun.gzipSync(body), type: file.type, etag: `"${Bun.hash(body).toString(36)}"` };
    assets.set(file.html ? "/admin/" : `${ASSET_PREFIX}${file.name}`, asset);
  }
  return assets;
}

/** The asset for `path` as a response (gzip when accepted, 304 when unchanged), or undefined. */
export async function adminPageResponse(request: Request, path: string): Promise<Response | undefined> {
  const asset = (await adminAssets()).get(path === "/admin" ? "/admin/" : path);
  if (!asset) return undefined;
  const html = path === "/admin" || path === "/admin/";
  const headers: Record<string, string> = {
    ...HEADERS, "content-type": asset.type, etag: asset.etag, vary: "accept-encoding",
    // Chunk names carry a content hash; the HTML is checked each time so a new binary is picked up.
    "cache-control": html ? "no-cache" : "public, max-age=31536000, immutable",
  };
  if (request.headers.get("if-none-match") === asset.etag) return new Response(null, { status: 304, headers });
  const gzip = /\bgzip\b/.test(request.headers.get("accept-encoding") ?? "");
  if (gzip) headers["content-encoding"] = "gzip";
  return new Response(gzip ? asset.gzipped : asset.body, { headers });
}
