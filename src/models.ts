// The model catalogue and the name variants a client can ask for. A variant is a suffix on a
// base model name; it changes how jellycli serves the request, never what the upstream is called.

export const FAKE_STREAM_SUFFIXES = ["-fake-stream", "-假流式"] as const;
const SUFFIXES = {
  "-search": "search",
  "-nothinking": "nothinking",
  "-maxthinking": "maxthinking",
  "-fake-stream": "fakeStream",
  "-假流式": "fakeStream",
} as const;

export interface ModelVariant {
  /** The name without variant suffixes or a "models/" / "google/" prefix. */
  base: string;
  /** Serve a streamed request from the non-streamed upstream call, re-chunked. */
  fakeStream: boolean;
  /** Ground answers with Google Search. */
  search: boolean;
  /** -nothinking → "none", -maxthinking → "max". */
  thinking?: "none" | "max";
}

export function parseModelName(name: string): ModelVariant {
  let base = name.trim().replace(/^(models|google)\//, "");
  const variant: ModelVariant = { base, fakeStream: false, search: false };
  // Suffixes combine in any order: gemini-2.5-pro-search-fake-stream.
  for (let stripped = true; stripped; ) {
    stripped = false;
    for (const [suffix, flag] of Object.entries(SUFFIXES)) {
      if (!base.endsWith(suffix) || base.length === suffix.length) continue;
      base = base.slice(0, -suffix.length);
      stripped = true;
      if (flag === "fakeStream") variant.fakeStream = true;
      else if (flag === "search") variant.search = true;
      else variant.thinking = flag === "nothinking" ? "none" : "max";
    }
  }
  return { ...variant, base };
}

/** Every name /v1/models lists: each base model and its fake-stream variant. */
export function listedModelNames(baseModels: readonly string[]): string[] {
  return baseModels.flatMap((model) => [model, `${model}${FAKE_STREAM_SUFFIXES[0]}`]);
}
