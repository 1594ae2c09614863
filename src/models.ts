// The model catalogue and the name variants a client can ask for. A variant is a suffix on a
// base model name; it changes how jellycli serves the request, never what the upstream is called.

export const FAKE_STREAM_SUFFIXES = ["-fake-stream", "-假流式"] as const;

export interface ModelVariant {
  /** The name without variant suffixes or a "models/" prefix. */
  base: string;
  /** Serve a streamed request from the non-streamed upstream call, re-chunked. */
  fakeStream: boolean;
}

export function parseModelName(name: string): ModelVariant {
  let base = name.trim().replace(/^models\//, "");
  let fakeStream = false;
  for (const suffix of FAKE_STREAM_SUFFIXES) {
    if (base.endsWith(suffix)) {
      base = base.slice(0, -suffix.length);
      fakeStream = true;
    }
  }
  return { base, fakeStream };
}

/** Every name /v1/models lists: each base model and its fake-stream variant. */
export function listedModelNames(baseModels: readonly string[]): string[] {
  return baseModels.flatMap((model) => [model, `${model}${FAKE_STREAM_SUFFIXES[0]}`]);
}
