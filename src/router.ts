// Model name → which upstream serves it and under which name. One upstream (Code Assist) for now;
// the seam is here so API-key and OpenAI-compatible upstreams slot in without touching callers.
import { GatewayError } from "./hub.ts";
import { parseModelName, type ModelVariant } from "./models.ts";

export interface Route extends ModelVariant {
  upstream: "codeassist";
  /** The name the upstream is asked for. */
  upstreamModel: string;
}

export function routeModel(requested: string): Route {
  const variant = parseModelName(requested);
  if (variant.base === "") throw GatewayError.invalidRequest("`model` must name a model", "model");
  return { ...variant, upstream: "codeassist", upstreamModel: variant.base };
}
