// JSON Schema from OpenAI tools and response formats → schemas Gemini accepts (translation.md §2.8).
// Profile "json_schema" feeds parametersJsonSchema / responseJsonSchema (lenient JSON Schema);
// profile "openapi" feeds parameters / responseSchema (the strict OpenAPI Schema proto, where any
// unknown key is a 400). Only ever run on a schema, never on a whole request.

import { GatewayError } from "../../hub.ts";

export type SchemaProfile = "json_schema" | "openapi";
type Schema = Record<string, unknown>;

const OPENAPI_KEYS = new Set([
  "anyOf", "default", "description", "enum", "example", "format", "items", "maxItems", "maxLength", "maxProperties",
  "maximum", "minItems", "minLength", "minProperties", "minimum", "nullable", "pattern", "properties", "propertyOrdering",
  "required", "title", "type",
]);
const JSON_SCHEMA_KEYS = new Set([
  "$id", "$anchor", "type", "format", "title", "description", "enum", "items", "prefixItems", "minItems", "maxItems",
  "minimum", "maximum", "anyOf", "properties", "additionalProperties", "required", "propertyOrdering", "default",
  "nullable", "minLength", "maxLength", "pattern", "minProperties", "maxProperties", "example",
]);
/** Constraints Gemini rejects or ignores; kept as a hint in the description so the model still sees them. */
const HINTED = ["exclusiveMinimum", "exclusiveMaximum", "multipleOf", "uniqueItems", "pattern", "minLength", "maxLength"];
const FORMATS: Record<string, Set<string>> = {
  string: new Set(["enum", "date-time"]),
  number: new Set(["float", "double"]),
  integer: new Set(["int32", "int64"]),
};
const MAX_REF_DEPTH = 3;
/**
 * How many schema nodes one request may produce once $refs are inlined. A 2 KB schema whose levels
 * each point 8 times at the next expands to millions of nodes; no real tool needs more than a few
 * thousand, so past this the request is refused (400) instead of the gateway swelling.
 */
export const MAX_SCHEMA_NODES = 50_000;

export interface SanitizeOptions {
  profile: SchemaProfile;
  /** Output schemas get propertyOrdering so Gemini keeps the client's key order (B16). */
  ordered?: boolean;
  /** Shared by every schema of one request; MAX_SCHEMA_NODES when absent. */
  budget?: SchemaBudget;
  /** The request field, for the error that names it. */
  param?: string;
}

export interface SchemaBudget {
  nodes: number;
}

export const schemaBudget = (): SchemaBudget => ({ nodes: MAX_SCHEMA_NODES });

export function sanitizeSchema(schema: unknown, options: SanitizeOptions): Schema {
  if (typeof schema !== "object" || schema === null || Array.isArray(schema)) return { type: "object", properties: {} };
  const root = schema as Schema;
  const definitions = { ...asSchema(root.definitions), ...asSchema(root.$defs) };
  return clean(root, { ...options, budget: options.budget ?? schemaBudget(), definitions, refStack: [] });
}

/** True when a (sanitised) object schema declares nothing: Gemini wants such parameters omitted. */
export function isEmptyObjectSchema(schema: Schema): boolean {
  const properties = schema.properties as Schema | undefined;
  return (schema.type === undefined || schema.type === "object") && (!properties || Object.keys(properties).length === 0) && !schema.anyOf;
}

interface Walk extends SanitizeOptions {
  budget: SchemaBudget;
  definitions: Schema;
  refStack: string[];
}

function clean(input: Schema, walk: Walk): Schema {
  if (--walk.budget.nodes < 0) {
    throw GatewayError.invalidRequest(`${walk.param ? `\`${walk.param}\`` : "A schema"} is too large once its $refs are inlined (over ${MAX_SCHEMA_NODES} nodes in this request)`, walk.param ?? null);
  }
  let node = resolveRef(input, walk);
  if (node === undefined) return { type: "object", description: "(recursive)" };
  const stack = typeof input.$ref === "string" ? [...walk.refStack, input.$ref] : walk.refStack;
  const inner: Walk = { ...walk, refStack: stack };
  node = mergeAllOf(node, inner);

  const out: Schema = {};
  const hints: string[] = [];
  let nullable = node.nullable === true;

  // B3: type arrays. ["string","null"] → "string" + nullable; several real types → anyOf.
  let type = node.type;
  if (Array.isArray(type)) {
    const real = type.filter((entry) => entry !== "null");
    if (real.length < type.length) nullable = true;
    if (real.length === 1) type = real[0];
    else if (real.length > 1) {
      type = undefined;
      out.anyOf = real.map((entry) => ({ type: entry }));
    } else type = "null";
  }
  if (typeof type === "string") type = type.toLowerCase();

  // B2: const → a one-member enum.
  let enumValues = Array.isArray(node.enum) ? node.enum : undefined;
  if (node.const !== undefined) {
    if (typeof node.const === "string") {
      enumValues = [node.const];
      type ??= "string";
    } else hints.push(`must be ${JSON.stringify(node.const)}`);
  }

  // B4: anyOf/oneOf, null branches folded into nullable.
  const branches = (node.anyOf ?? node.oneOf) as Schema[] | undefined;
  if (Array.isArray(branches)) {
    // Members that are not schemas at all (null, 1) are dropped; {type: "null"} folds into nullable.
    const real = branches.filter((branch) => typeof branch === "object" && branch !== null && !Array.isArray(branch) && branch.type !== "null");
    if (real.length < branches.length) nullable = true;
    if (real.length === 1 && walk.profile === "openapi") {
      const merged = clean({ ...node, anyOf: undefined, oneOf: undefined, ...real[0] }, inner);
      return nullable ? { ...merged, nullable: true } : merged;
    }
    if (real.length > 0) out.anyOf = real.map((branch) => clean(branch, inner));
  }

  // B10: infer a missing type.
  if (type === undefined && !out.anyOf) {
    if (node.properties) type = "object";
    else if (node.items) type = "array";
    else if (enumValues) type = "string";
  }
  if (type !== undefined && !(out.anyOf && walk.profile === "openapi")) out.type = type;

  for (const key of ["title", "description", "default", "example"]) if (node[key] !== undefined) out[key] = node[key];
  for (const key of ["minimum", "maximum", "minItems", "maxItems", "minProperties", "maxProperties"]) {
    if (typeof node[key] === "number") out[key] = node[key];
  }
  if (type === "string") {
    for (const key of ["minLength", "maxLength", "pattern"]) if (node[key] !== undefined) out[key] = node[key];
  }

  // B8 / B15: enums. Gemini's proto takes string enums only; JSON Schema also numbers.
  if (enumValues) {
    const allowed = enumValues.filter((value) => typeof value === "string" ? value !== "" : typeof value === "number" && walk.profile === "json_schema");
    if (type === "string" || type === undefined || walk.profile === "json_schema") {
      if (allowed.length > 0) out.enum = walk.profile === "openapi" ? allowed.map(String) : allowed;
      if (allowed.length < enumValues.length) hints.push(`allowed values: ${enumValues.map((value) => JSON.stringify(value)).join(", ")}`);
    } else hints.push(`allowed values: ${enumValues.map((value) => JSON.stringify(value)).join(", ")}`);
  }

  // B9: formats Gemini knows; the rest become a hint.
  if (typeof node.format === "string") {
    if (typeof type === "string" && FORMATS[type]?.has(node.format)) out.format = node.format;
    else hints.push(`format: ${node.format}`);
  }

  if (type === "object" || node.properties) {
    const properties = (node.properties ?? {}) as Schema;
    const names = Object.keys(properties);
    out.properties = Object.fromEntries(names.map((name) => [name, clean(asSchema(properties[name]), inner)]));
    // B14: required must name existing properties.
    if (Array.isArray(node.required)) {
      const required = node.required.filter((name): name is string => typeof name === "string" && names.includes(name));
      if (required.length > 0) out.required = required;
    }
    if (walk.ordered && names.length > 1) out.propertyOrdering = names;
    if (walk.profile === "json_schema" && node.additionalProperties !== undefined) {
      out.additionalProperties = typeof node.additionalProperties === "object" && node.additionalProperties !== null
        ? clean(node.additionalProperties as Schema, inner)
        : node.additionalProperties;
    }
  }

  // B11 / B12: arrays need items; non-arrays must not have them.
  if (type === "array") {
    const items = node.items;
    if (Array.isArray(items)) out.items = items.length > 0 ? clean(asSchema(items[0]), inner) : { type: "object" };
    else if (typeof items === "object" && items !== null && Object.keys(items).length > 0) out.items = clean(items as Schema, inner);
    else out.items = walk.profile === "openapi" ? { type: "string" } : { type: "object" };
    if (walk.profile === "json_schema" && Array.isArray(node.prefixItems)) out.prefixItems = node.prefixItems.map((item) => clean(asSchema(item), inner));
  }

  for (const key of HINTED) {
    if (node[key] !== undefined && out[key] === undefined) hints.push(`${key}: ${JSON.stringify(node[key])}`);
  }
  // Type arrays are what Gemini rejects ("Proto field is not repeating"); nullable is what it takes.
  if (nullable) {
    if (walk.profile === "json_schema" && out.anyOf) (out.anyOf as Schema[]).push({ type: "null" });
    else out.nullable = true;
  }
  if (hints.length > 0) out.description = [out.description, `(${hints.join("; ")})`].filter(Boolean).join(" ");

  // B5: in the strict profile anyOf stands alone; its siblings' meaning moves into the branches.
  if (walk.profile === "openapi" && out.anyOf) {
    const { anyOf, nullable: isNullable, description } = out;
    return { anyOf, ...(description ? { description } : {}), ...(isNullable ? { nullable: true } : {}) };
  }
  const allowedKeys = walk.profile === "openapi" ? OPENAPI_KEYS : JSON_SCHEMA_KEYS;
  return Object.fromEntries(Object.entries(out).filter(([key]) => allowedKeys.has(key)));
}

/** B1: inline local $refs; a ref already on the stack (a cycle) ends at a small placeholder. */
function resolveRef(node: Schema, walk: Walk): Schema | undefined {
  const ref = node.$ref;
  if (typeof ref !== "string") return node;
  const name = /^#\/(?:\$defs|definitions)\/(.+)$/.exec(ref)?.[1];
  const target = name !== undefined ? walk.definitions[safeDecode(name)] : undefined;
  if (typeof target !== "object" || target === null) return { type: "object", description: node.description ?? `(unresolved ${ref})` };
  if (walk.refStack.filter((entry) => entry === ref).length >= MAX_REF_DEPTH - 1) return undefined;
  const { $ref: _ref, ...siblings } = node;
  return { ...(target as Schema), ...siblings };
}

/** B6: allOf members are merged into their parent. */
function mergeAllOf(node: Schema, walk: Walk): Schema {
  if (!Array.isArray(node.allOf)) return node;
  const { allOf, ...rest } = node;
  const merged: Schema = { ...rest };
  for (const member of allOf as Schema[]) {
    const resolved = resolveRef(asSchema(member), walk) ?? {};
    merged.properties = { ...(merged.properties as Schema), ...(resolved.properties as Schema) };
    merged.required = [...((merged.required as string[]) ?? []), ...((resolved.required as string[]) ?? [])];
    for (const [key, value] of Object.entries(resolved)) if (!(key in merged)) merged[key] = value;
  }
  if (Object.keys(merged.properties as Schema).length === 0) delete merged.properties;
  if ((merged.required as string[]).length === 0) delete merged.required;
  return merged;
}

function asSchema(value: unknown): Schema {
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Schema) : {};
}

/** JSON Pointer segments may be %-encoded; a bad escape is taken literally. */
function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
