// Responses API answers across instances: each kept answer is also a Redis key with the same
// lifetime (jellycli:response:<id>), so previous_response_id and GET /v1/responses/{id} work on
// whichever instance the next request reaches.
import type { SharedResponses, StoredResponse } from "../http/response-store.ts";
import { PREFIX, type SharedBus } from "./bus.ts";

const KEY = (id: string) => `${PREFIX}response:${id}`;

export function sharedResponses(bus: SharedBus): SharedResponses {
  return {
    put: (id, text, ttlMs) => void bus.run((redis) => redis.set(KEY(id), text, "PX", String(ttlMs))),
    get: async (id) => {
      const text = await bus.run((redis) => redis.get(KEY(id)));
      return text ? (JSON.parse(text) as StoredResponse) : undefined;
    },
    delete: async (id) => ((await bus.run((redis) => redis.del(KEY(id)))) ?? 0) > 0,
  };
}
