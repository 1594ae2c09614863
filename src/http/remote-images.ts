// Images given by http(s) URL are fetched by the gateway and sent inline: Code Assist does not
// fetch arbitrary URLs itself. Bounded in size and time; the MIME type comes from Content-Type.
// Runs before translation so the translators stay pure.
import { GatewayError } from "../hub.ts";

export interface RemoteImageOptions {
  fetch: typeof fetch;
  maxBytes: number;
  timeoutMs: number;
}

type Message = { content?: unknown; [key: string]: unknown };

/** A copy of `messages` with every http(s) image_url replaced by a data: URL. */
export async function inlineRemoteImages(messages: unknown, options: RemoteImageOptions): Promise<unknown> {
  if (!Array.isArray(messages) || !messages.some(hasRemoteImage)) return messages;
  return Promise.all(messages.map(async (message: Message, index) => {
    if (!hasRemoteImage(message)) return message;
    const content = await Promise.all((message.content as Record<string, any>[]).map(async (part, position) => {
      const url = imageUrl(part);
      if (!url || !/^https?:\/\//i.test(url)) return part;
      const dataUrl = await download(url, `messages[${index}].content[${position}].image_url.url`, options);
      return { ...part, image_url: { ...(typeof part.image_url === "object" ? part.image_url : {}), url: dataUrl } };
    }));
    return { ...message, content };
  }));
}

function imageUrl(part: Record<string, any>): string | undefined {
  if (part?.type !== "image_url") return undefined;
  return typeof part.image_url === "string" ? part.image_url : part.image_url?.url;
}

function hasRemoteImage(message: Message): boolean {
  return Array.isArray(message?.content) && message.content.some((part) => /^https?:\/\//i.test(imageUrl(part) ?? ""));
}

async function download(url: string, param: string, options: RemoteImageOptions): Promise<string> {
  const fail = (why: string) => GatewayError.invalidRequest(`Could not fetch the image at ${url}: ${why}`, param);
  let response: Response;
  try {
    response = await options.fetch(url, { signal: AbortSignal.timeout(options.timeoutMs), redirect: "follow" });
  } catch (error) {
    throw fail((error as Error).name === "TimeoutError" ? "timed out" : (error as Error).message);
  }
  if (!response.ok) throw fail(`HTTP ${response.status}`);
  const mimeType = (response.headers.get("content-type") ?? "").split(";")[0]!.trim();
  if (!mimeType.startsWith("image/")) throw fail(`it is not an image (Content-Type "${mimeType || "none"}")`);
  if (Number(response.headers.get("content-length")) > options.maxBytes) throw fail(`larger than ${options.maxBytes} bytes`);
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of response.body ?? []) {
    size += chunk.byteLength;
    if (size > options.maxBytes) throw fail(`larger than ${options.maxBytes} bytes`);
    chunks.push(chunk);
  }
  return `data:${mimeType};base64,${Buffer.concat(chunks).toString("base64")}`;
}
