/**
 * The client side of the one-shot messaging streams: `publishMessage()` (a PUBLISH stream) and
 * `pushMessage()` (a PUSH stream), which `OvtpClient.publish()` and `OvtpClient.push()` call over
 * the current channel; the server answers them in `pubsub.ts` and `work_queue.ts`.
 *
 * @module
 */

import { ProtocolError } from "../errors.ts";
import type { OvtpMessage } from "../message.ts";
import type { Channel } from "../session/channel.ts";
import { callLimits, type RequestOptions } from "../session/message_exchange.ts";
import { StreamKind } from "../session/stream.ts";
import { withStreamDeadline } from "../session/stream_deadline.ts";
import { checkTopic } from "./topic_pattern.ts";

/**
 * Sends one PUBLISH (or PUSH) stream: the head names the topic (or queue) and the type, the
 * body follows; resolves to the reply head's count (`delivered`, or `queued`).
 */
async function sendOne(
  channel: Channel,
  kind: number,
  head: Record<string, string>,
  message: OvtpMessage,
  countField: string,
  options: RequestOptions,
): Promise<number> {
  const empty = message.data.length === 0;
  const stream = await channel.openStream(kind, { ...head, type: message.type }, { end: empty });
  return await withStreamDeadline(stream, callLimits(options), async () => {
    if (!empty) await stream.write(message.data, { end: true });
    const reply = await stream.replyHead();
    const count = reply[countField];
    if (reply.status !== true || typeof count !== "number") {
      throw new ProtocolError(`The reply head has no status and "${countField}" count`);
    }
    await stream.readAll(0);
    return count;
  });
}

/**
 * Publishes `message` on `topic` over `channel`; resolves to the number of subscriptions it was
 * delivered to. A key restricted by `topics=` gets a `RemoteError` with code 13.
 *
 * @example See tests/messaging/pubsub_test.ts; in short:
 * ```ts ignore
 * const delivered = await publishMessage(channel, "metrics.cpu", OvtpMessage.from({ load: 1 }));
 * ```
 */
export async function publishMessage(
  channel: Channel,
  topic: string,
  message: OvtpMessage,
  options: RequestOptions = {},
): Promise<number> {
  checkTopic(topic);
  return await sendOne(channel, StreamKind.publish, { topic }, message, "delivered", options);
}

/**
 * Adds `message` to the work queue `queue` over `channel`; resolves to the number of items
 * waiting in the queue afterwards. A full queue gives a `RemoteError` with code 40.
 *
 * @example See tests/messaging/work_queue_test.ts; in short:
 * ```ts ignore
 * const waiting = await pushMessage(channel, "jobs", OvtpMessage.from({ file: "a.png" }));
 * ```
 */
export async function pushMessage(
  channel: Channel,
  queue: string,
  message: OvtpMessage,
  options: RequestOptions = {},
): Promise<number> {
  checkTopic(queue);
  return await sendOne(channel, StreamKind.push, { queue }, message, "queued", options);
}
