// Images given by http(s) URL are fetched by the gateway and sent inline: Code Assist does not
// fetch arbitrary URLs itself. Runs before translation so the translators stay pure.
//
// The gateway fetches what a client names, so it guards against being used to reach what the
// client must not (SSRF): the host is resolved and every address must be public (ip-filter.ts)
// unless the operator allows private ones; the connection goes to the address that was checked
// (the Host header and TLS server name carry the name); redirects are followed by hand, each one
// checked again, at most three; URLs with credentials are refused. Bounded too: a cap on how many
// images one request may name, how many are fetched at once, and a byte budget for all of them.
// Failures name the image, never the remote status or socket error (no port scanning through us).
import { lookup } from "node:dns/promises";
import { isIP } from "node:net";
import { GatewayError } from "../hub.ts";
import { isPublicAddress } from "./ip-filter.ts";

export interface RemoteImageOptions {
  fetch: typeof fetch;
  /** Bytes all images of one request may add up to. */
  maxBytes: number;
  timeoutMs: number;
  /** Allow hosts on private and loopback addresses (images served from the LAN). */
  allowPrivate: boolean;
  /** Host name → addresses; the system resolver by default. */
  resolve?: (hostname: string) => Promise<string[]>;
}

export const MAX_REMOTE_IMAGES = 16;
const CONCURRENCY = 4;
const MAX_REDIRECTS = 3;

type Message = { content?: unknown; [key: string]: unknown };
interface Wanted { message: number; part: number; url: string; param: string }

/**
 * A copy of `messages` with every http(s) image replaced by its bytes: an OpenAI image_url part
 * gets a data: URL, an Anthropic image block a base64 source.
 */
export async function inlineRemoteImages(messages: unknown, options: RemoteImageOptions): Promise<unknown> {
  if (!Array.isArray(messages)) return messages;
  const wanted: Wanted[] = [];
  messages.forEach((message: Message, index) => {
    if (!Array.isArray(message?.content)) return;
    message.content.forEach((part, position) => {
      const url = imageUrl(part);
      const field = part?.type === "image" ? "source.url" : "image_url.url";
      if (url && /^https?:\/\//i.test(url)) wanted.push({ message: index, part: position, url, param: `messages[${index}].content[${position}].${field}` });
    });
  });
  if (wanted.length === 0) return messages;
  if (wanted.length > MAX_REMOTE_IMAGES) {
    throw GatewayError.invalidRequest(`At most ${MAX_REMOTE_IMAGES} images may be given by URL in one request (${wanted.length} were); send the others as data: URLs.`, wanted[MAX_REMOTE_IMAGES]!.param);
  }
  const budget = { remaining: options.maxBytes };
  const controller = new AbortController();
  const fetched = new Map<Wanted, string>();
  let next = 0;
  const worker = async () => {
    while (next < wanted.length) {
      const item = wanted[next++]!;
      fetched.set(item, await download(item, options, budget, controller.signal));
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(CONCURRENCY, wanted.length) }, worker));
  } catch (error) {
    controller.abort(); // the request fails anyway: stop the other downloads
    throw error;
  }
  const copy = messages.map((message: Message) => (Array.isArray(message?.content) ? { ...message, content: [...message.content] } : message));
  for (const [item, dataUrl] of fetched) {
    const content = copy[item.message]!.content as Record<string, any>[];
    const part = content[item.part]!;
    if (part.type === "image") {
      const [, mediaType, data] = /^data:([^;,]*);base64,(.*)$/s.exec(dataUrl) ?? [];
      content[item.part] = { ...part, source: { type: "base64", media_type: mediaType, data } };
    } else content[item.part] = { ...part, image_url: { ...(typeof part.image_url === "object" ? part.image_url : {}), url: dataUrl } };
  }
  return copy;
}

function imageUrl(part: Record<string, any>): string | undefined {
  if (part?.type === "image" && part.source?.type === "url") return typeof part.source.url === "string" ? part.source.url : undefined;
  if (part?.type !== "image_url") return undefined;
  const url = typeof part.image_url === "string" ? part.image_url : part.image_url?.url;
  return typeof url === "string" ? url : undefined;
}

async function download(item: Wanted, options: RemoteImageOptions, budget: { remaining: number }, abort: AbortSignal): Promise<string> {
  const fail = (why = "it could not be fetched as an image") => GatewayError.invalidRequest(`The image at ${item.param}: ${why}.`, item.param);
  const signal = AbortSignal.any([abort, AbortSignal.timeout(options.timeoutMs)]);
  let url = URL.parse(item.url);
  for (let hop = 0; ; hop++) {
    if (!url || (url.protocol !== "http:" && url.protocol !== "https:")) throw fail("only http(s) URLs can be fetched");
    if (url.username || url.password) throw fail("URLs with credentials are refused");
    const hostname = url.hostname.replace(/^\[|\]$/g, "");
    const address = await checkedAddress(hostname, options).catch((error: Error) => {
      throw error instanceof GatewayError ? fail(error.message) : fail();
    });
    // Connect to the address that was checked; the name travels in Host and TLS SNI.
    const target = new URL(url);
    target.hostname = isIP(address) === 6 ? `[${address}]` : address;
    let response: Response;
    try {
      response = await options.fetch(target, { headers: { host: url.host }, redirect: "manual", signal, tls: { serverName: hostname } } as RequestInit);
    } catch {
      throw fail();
    }
    const location = response.headers.get("location");
    if (response.status >= 300 && response.status < 400 && location) {
      await response.body?.cancel().catch(() => {});
      if (hop >= MAX_REDIRECTS) throw fail(`more than ${MAX_REDIRECTS} redirects`);
      url = URL.parse(location, url.href);
      continue;
    }
    if (!response.ok) {
      await response.body?.cancel().catch(() => {});
      throw fail();
    }
    const mimeType = (response.headers.get("content-type") ?? "").split(";")[0]!.trim();
    if (!mimeType.startsWith("image/")) {
      await response.body?.cancel().catch(() => {});
      throw fail();
    }
    const bytes = await readWithin(response, budget, () => fail(`the images of this request exceed ${options.maxBytes} bytes together`), () => fail());
    return `data:${mimeType};base64,${Buffer.from(bytes).toString("base64")}`;
  }
}

/** A public address of `hostname` (any address when private ones are allowed); throws why not. */
async function checkedAddress(hostname: string, options: RemoteImageOptions): Promise<string> {
  const addresses = isIP(hostname) ? [hostname] : await (options.resolve ?? systemResolve)(hostname);
  if (addresses.length === 0) throw new Error("no address");
  if (!options.allowPrivate && !addresses.every(isPublicAddress)) {
    throw GatewayError.invalidRequest("its host is on a private or local network, which jellycli does not fetch from (remote_images_allow_private)");
  }
  return addresses[0]!;
}

async function systemResolve(hostname: string): Promise<string[]> {
  return (await lookup(hostname, { all: true })).map((entry) => entry.address);
}

async function readWithin(response: Response, budget: { remaining: number }, tooLarge: () => GatewayError, broken: () => GatewayError): Promise<Uint8Array> {
  if (Number(response.headers.get("content-length")) > budget.remaining) {
    await response.body?.cancel().catch(() => {});
    throw tooLarge();
  }
  const chunks: Uint8Array[] = [];
  const reader = response.body?.getReader();
  if (!reader) return new Uint8Array();
  for (;;) {
    const { value, done } = await reader.read().catch(() => {
      throw broken();
    });
    if (done) break;
    budget.remaining -= value.byteLength;
    if (budget.remaining < 0) {
      await reader.cancel().catch(() => {});
      throw tooLarge();
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks);
}
