import assert from "node:assert/strict";
import { jsonLine } from "../../cli/_json_line.ts";

Deno.test("jsonLine() writes the peer's value exactly, with terminal controls as JSON escapes", () => {
  const message = "data\x1b[2J\u009b1J\u202e\x7f";
  const topic = "t\u0085";
  const line = jsonLine({ topic }, "message", message);
  // deno-lint-ignore no-control-regex -- no terminal control may be left
  assert.doesNotMatch(line, /[\x00-\x1f\x7f-\x9f\u202e]/);
  assert.deepEqual(JSON.parse(line), { topic, message });
  const bytes = jsonLine({ topic }, "message", new Uint8Array([0x1b]));
  assert.doesNotMatch(bytes, /[\x7f-\x9f]/);
  assert.deepEqual(JSON.parse(bytes), { topic, message: "Gw==", encoding: "base64" });
});
