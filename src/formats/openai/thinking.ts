// reasoning_effort and the -nothinking / -maxthinking variants → Gemini thinkingConfig
// (translation.md §2.7): thinkingLevel on Gemini 3, thinkingBudget on 2.5, never both, clamped
// to what each model accepts.
import { GatewayError, type ThinkingConfig } from "../../hub.ts";

export const REASONING_EFFORTS = ["none", "minimal", "low", "medium", "high", "xhigh", "max"] as const;
export type ReasoningEffort = (typeof REASONING_EFFORTS)[number];

type Tier = "pro" | "flash" | "flash-lite";
interface ModelKind {
  generation: "3" | "2.5" | null;
  tier: Tier;
  /** 3.1 Pro refuses the minimal level. */
  rejectsMinimal: boolean;
}

const BUDGET_RANGE: Record<Tier, { min: number; max: number; canDisable: boolean }> = {
  pro: { min: 128, max: 32768, canDisable: false },
  flash: { min: 1, max: 24576, canDisable: true },
  "flash-lite": { min: 512, max: 24576, canDisable: true },
};
const BUDGETS: Record<Exclude<ReasoningEffort, "none" | "xhigh" | "max">, number> = { minimal: 512, low: 1024, medium: 8192, high: 24576 };

export function modelKind(model: string): ModelKind {
  const generation = /^gemini-3(\.\d+)?-/.test(model) || /^gemini-3/.test(model) ? "3" : /^gemini-2\.5-/.test(model) ? "2.5" : null;
  const tier: Tier = model.includes("flash-lite") ? "flash-lite" : model.includes("flash") ? "flash" : "pro";
  return { generation, tier, rejectsMinimal: /^gemini-3\.1-pro/.test(model) || (generation === "3" && tier === "pro") };
}

export function parseReasoningEffort(value: unknown): ReasoningEffort | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === "string" && (REASONING_EFFORTS as readonly string[]).includes(value)) return value as ReasoningEffort;
  throw GatewayError.invalidRequest(`\`reasoning_effort\` must be one of ${REASONING_EFFORTS.join(", ")}`, "reasoning_effort");
}

/** The thinkingConfig for `model`, or undefined for models that do not think. */
export function thinkingConfigFor(model: string, effort: ReasoningEffort | undefined, includeThoughts: boolean): ThinkingConfig | undefined {
  const kind = modelKind(model);
  if (kind.generation === null) return undefined;
  const config: ThinkingConfig = {};
  if (effort !== undefined) {
    if (kind.generation === "3") config.thinkingLevel = levelFor(kind, effort);
    else config.thinkingBudget = budgetFor(kind.tier, effort);
  }
  const disabled = config.thinkingBudget === 0;
  if (includeThoughts && !disabled) config.includeThoughts = true;
  return Object.keys(config).length > 0 ? config : undefined;
}

function levelFor(kind: ModelKind, effort: ReasoningEffort): string {
  switch (effort) {
    case "none":
    case "minimal":
      // Pro cannot stop thinking and 3.x Pro refuses "minimal": the lowest it takes is "low".
      return kind.tier === "pro" || kind.rejectsMinimal ? "low" : "minimal";
    case "low":
      return "low";
    case "medium":
      return "medium";
    default:
      return "high";
  }
}

function budgetFor(tier: Tier, effort: ReasoningEffort): number {
  const range = BUDGET_RANGE[tier];
  if (effort === "none") return range.canDisable ? 0 : range.min;
  if (effort === "xhigh" || effort === "max") return range.max;
  if (effort === "minimal" && tier === "pro") return range.min;
  return Math.min(range.max, Math.max(range.min, BUDGETS[effort]));
}

/**
 * A token budget (Anthropic's `thinking.budget_tokens`) for `model`: the budget itself on 2.5,
 * clamped to the model's range; the nearest level on Gemini 3; undefined for models that do not think.
 */
export function thinkingForBudget(model: string, budget: number, includeThoughts: boolean): ThinkingConfig | undefined {
  const kind = modelKind(model);
  if (kind.generation === null) return undefined;
  if (kind.generation === "3") {
    const effort: ReasoningEffort = budget <= 1024 ? "low" : budget <= 8192 ? "medium" : "high";
    return { thinkingLevel: levelFor(kind, effort), ...(includeThoughts ? { includeThoughts: true } : {}) };
  }
  const range = BUDGET_RANGE[kind.tier];
  return { thinkingBudget: Math.min(range.max, Math.max(range.min, Math.round(budget))), ...(includeThoughts ? { includeThoughts: true } : {}) };
}
