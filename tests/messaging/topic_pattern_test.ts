import assert from "node:assert/strict";
import {
  checkTopic,
  checkTopicPattern,
  patternCovers,
  topicMatches,
} from "../../messaging/topic_pattern.ts";
import { maySubscribe, mayUseTopic, topicRestriction } from "../../messaging/messaging_protocol.ts";

Deno.test("topicMatches() follows the table of wildcards", () => {
  const table: [string, string, boolean][] = [
    ["a.b.c", "a.b.c", true],
    ["a.b.c", "a.b", false],
    ["a.b", "a.b.c", false],
    ["a.*", "a.b", true],
    ["a.*", "a", false],
    ["a.*", "a.b.c", false],
    ["*.b", "a.b", true],
    ["*.*", "a.b", true],
    ["*", "a", true],
    ["*", "a.b", false],
    ["a.>", "a.b", true],
    ["a.>", "a.b.c.d", true],
    ["a.>", "a", false],
    [">", "a", true],
    [">", "a.b.c", true],
    ["a.*.c", "a.b.c", true],
    ["a.*.c", "a.b.d", false],
    ["a.*.>", "a.b.c", true],
    ["a.*.>", "a.b", false],
    ["A.b", "a.b", false],
  ];
  for (const [pattern, topic, expected] of table) {
    assert.equal(topicMatches(pattern, topic), expected, `${pattern} vs ${topic}`);
  }
});

Deno.test("checkTopic() and checkTopicPattern() refuse malformed names", () => {
  for (const good of ["a", "a.b", "metrics.cpu.host-1", "x_y.Z9", "a".repeat(255)]) {
    assert.equal(checkTopic(good), good);
    assert.equal(checkTopicPattern(good), good);
  }
  for (const bad of ["", ".", "a.", ".a", "a..b", "a b", "a/b", "é", "a.*", "a.>", 5, null]) {
    assert.throws(() => checkTopic(bad), TypeError, String(bad));
  }
  for (const good of ["*", ">", "a.*", "*.b.>", "a.*.*"]) {
    assert.equal(checkTopicPattern(good), good);
  }
  for (const bad of ["a.>.b", ">.a", "a*", "a.b*", "**", "a.>>", "a".repeat(256), ""]) {
    assert.throws(() => checkTopicPattern(bad), TypeError, bad);
  }
});

Deno.test("patternCovers() decides whether a pattern lies inside another", () => {
  const table: [string, string, boolean][] = [
    ["a.>", "a.b", true],
    ["a.>", "a.*", true],
    ["a.>", "a.>", true],
    ["a.>", "a.b.>", true],
    ["a.>", "a", false],
    ["a.>", ">", false],
    ["a.*", "a.b", true],
    ["a.*", "a.*", true],
    ["a.*", "a.>", false],
    ["a.*", "a.b.c", false],
    ["a.b", "a.b", true],
    ["a.b", "a.*", false],
    [">", "x.y.>", true],
  ];
  for (const [outer, inner, expected] of table) {
    assert.equal(patternCovers(outer, inner), expected, `${outer} covers ${inner}`);
  }
});

Deno.test("topicRestriction() reads topics= and fails closed on a malformed value", () => {
  assert.equal(topicRestriction(new Map()), undefined);
  const allowed = topicRestriction(new Map([["topics", "metrics.>, jobs.resize"]]));
  assert.deepEqual(allowed, ["metrics.>", "jobs.resize"]);
  assert.equal(mayUseTopic(allowed, "metrics.cpu"), true);
  assert.equal(mayUseTopic(allowed, "jobs.resize"), true);
  assert.equal(mayUseTopic(allowed, "jobs.other"), false);
  assert.equal(maySubscribe(allowed, "metrics.*.cpu"), true);
  assert.equal(maySubscribe(allowed, "jobs.*"), false);
  assert.deepEqual(topicRestriction(new Map([["topics", true]])), []);
  assert.deepEqual(topicRestriction(new Map([["topics", "a..b"]])), []);
  assert.equal(mayUseTopic([], "anything"), false);
});
