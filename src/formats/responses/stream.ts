// Hub response chunks → OpenAI Responses stream events, in the documented order with a rising
// sequence_number: response.created, response.in_progress, then per output item
// output_item.added → (reasoning_summary_part / content_part) added → deltas → done events →
// output_item.done, then response.completed (or response.incomplete). One generator per request,
// state in locals; the last event carries the whole response, which the route keeps.
import type { GenerateContentResponse, UsageMetadata } from "../../hub.ts";
import type { Item, Json } from "./request.ts";
import { callItem, messageItem, reasoningItem, responseObject, statusOf, usageOf, type ResponsesContext } from "./response.ts";

export type ResponsesEvent = Json & { type: string; sequence_number: number };

type Open =
  | { kind: "reasoning"; index: number; id: string; text: string }
  | { kind: "message"; index: number; id: string; text: string };

export async function* hubStreamToResponses(chunks: AsyncIterable<GenerateContentResponse>, context: ResponsesContext): AsyncGenerator<ResponsesEvent> {
  let sequence = 0;
  const output: Item[] = [];
  const pending: ResponsesEvent[] = [];
  const emit = (type: string, fields: Json) => pending.push({ type, sequence_number: sequence++, ...fields });
  let open: Open | undefined;
  let signature: string | undefined;
  let usage: UsageMetadata | undefined;
  let finishReason: string | undefined;
  let blocked = false;
  let grounding: unknown;

  const close = () => {
    if (!open) return;
    const { index, id, text } = open;
    if (open.kind === "reasoning") {
      const item = reasoningItem(id, text, signature);
      if (text !== "") {
        emit("response.reasoning_summary_text.done", { item_id: id, output_index: index, summary_index: 0, text });
        emit("response.reasoning_summary_part.done", { item_id: id, output_index: index, summary_index: 0, part: { type: "summary_text", text } });
      }
      emit("response.output_item.done", { output_index: index, item });
      output[index] = item;
    } else {
      // Grounding arrives with the last chunk, which also ends the message: the sources are known by now.
      const item = messageItem(id, text, "completed", grounding);
      const part = (item.content as Json[])[0];
      emit("response.output_text.done", { item_id: id, output_index: index, content_index: 0, text, logprobs: [] });
      emit("response.content_part.done", { item_id: id, output_index: index, content_index: 0, part });
      emit("response.output_item.done", { output_index: index, item });
      output[index] = item;
    }
    open = undefined;
  };
  const openItem = (kind: Open["kind"]) => {
    close();
    const index = output.length;
    const id = context.makeId(kind === "reasoning" ? "rs" : "msg");
    output.push({});
    open = { kind, index, id, text: "" };
    if (kind === "reasoning") {
      // Its summary part opens with the first summary text (a signature-only item has none).
      emit("response.output_item.added", { output_index: index, item: { type: "reasoning", id, summary: [] } });
    } else {
      emit("response.output_item.added", { output_index: index, item: { ...messageItem(id, "", "in_progress"), content: [] } });
      emit("response.content_part.added", { item_id: id, output_index: index, content_index: 0, part: { type: "output_text", text: "", annotations: [], logprobs: [] } });
    }
    return open!;
  };

  yield { type: "response.created", sequence_number: sequence++, response: responseObject(context, { status: "in_progress", output: [], usage: null }) };
  yield { type: "response.in_progress", sequence_number: sequence++, response: responseObject(context, { status: "in_progress", output: [], usage: null }) };
  for await (const response of chunks) {
    if (response.usageMetadata && (response.usageMetadata.promptTokenCount !== undefined || response.usageMetadata.candidatesTokenCount !== undefined)) usage = response.usageMetadata;
    if (response.promptFeedback?.blockReason) blocked = true;
    const candidate = response.candidates?.[0];
    if (candidate?.finishReason) finishReason = candidate.finishReason;
    if (candidate?.groundingMetadata) grounding = candidate.groundingMetadata;
    for (const part of candidate?.content?.parts ?? []) {
      if (part.thoughtSignature && signature === undefined) signature = part.thoughtSignature;
      if (part.functionCall) {
        // A signature without thoughts still needs a reasoning item to travel back in.
        if (signature && !output.some((item) => item.type === "reasoning") && open?.kind !== "reasoning") openItem("reasoning");
        close();
        const index = output.length;
        const item = callItem(part, context);
        output.push(item);
        const isCustom = item.type === "custom_tool_call";
        emit("response.output_item.added", { output_index: index, item: { ...item, status: "in_progress", ...(isCustom ? { input: "" } : { arguments: "" }) } });
        const text = String(isCustom ? item.input : item.arguments);
        emit(isCustom ? "response.custom_tool_call_input.delta" : "response.function_call_arguments.delta", { item_id: item.id, output_index: index, delta: text });
        emit(isCustom ? "response.custom_tool_call_input.done" : "response.function_call_arguments.done", { item_id: item.id, output_index: index, ...(isCustom ? { input: text } : { arguments: text }) });
        emit("response.output_item.done", { output_index: index, item });
      } else if (typeof part.text === "string" && part.thought === true) {
        const item = open?.kind === "reasoning" ? open : openItem("reasoning");
        if (part.text !== "") {
          if (item.text === "") emit("response.reasoning_summary_part.added", { item_id: item.id, output_index: item.index, summary_index: 0, part: { type: "summary_text", text: "" } });
          item.text += part.text;
          emit("response.reasoning_summary_text.delta", { item_id: item.id, output_index: item.index, summary_index: 0, delta: part.text });
        }
      } else if (typeof part.text === "string" && part.text !== "") {
        const item = open?.kind === "message" ? open : openItem("message");
        item.text += part.text;
        emit("response.output_text.delta", { item_id: item.id, output_index: item.index, content_index: 0, delta: part.text, logprobs: [] });
      }
    }
    for (const event of pending) yield event as ResponsesEvent;
    pending.length = 0;
  }
  close();
  for (const event of pending) yield event as ResponsesEvent;
  const { status, incomplete_details } = statusOf(finishReason, blocked && !finishReason);
  const final = responseObject(context, { status, output, usage: usageOf(usage), incomplete_details });
  yield { type: status === "completed" ? "response.completed" : "response.incomplete", sequence_number: sequence++, response: final };
}
