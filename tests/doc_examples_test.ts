/**
 * The examples a JSR user reads: every `@example` that `deno doc` shows for the package's two
 * entry points, mod.ts and cli.ts (their own, and those of every symbol they export and of their
 * members), must be one a user can copy: it imports only the package (mod.ts or cli.ts by a
 * relative path, which `deno test --doc` resolves from the file the example is in, or the
 * package name `@ovtp/ovtp`) and the runtime's `node:` modules, reads no test fixture, and runs
 * (no `ignore`), so `deno test --doc` proves it works.
 */
import assert from "node:assert/strict";
import { join } from "node:path";

const repoRoot = join(import.meta.dirname!, "..");

/** One example and the symbol whose documentation shows it. */
interface Example {
  symbol: string;
  text: string;
}

/** Every example in `deno doc --json mod.ts`, with the name of the symbol it documents. */
async function publicExamples(entry: string): Promise<Example[]> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["doc", "--json", entry],
    cwd: repoRoot,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
  const examples: Example[] = [];
  const walk = (node: unknown, symbol: string): void => {
    if (Array.isArray(node)) {
      for (const item of node) walk(item, symbol);
    } else if (typeof node === "object" && node !== null) {
      const record = node as Record<string, unknown>;
      const name = typeof record.name === "string"
        ? `${symbol}${symbol ? "." : ""}${record.name}`
        : symbol;
      if (record.kind === "example" && typeof record.doc === "string") {
        examples.push({ symbol: symbol || "mod.ts", text: record.doc });
      }
      for (const value of Object.values(record)) walk(value, name);
    }
  };
  walk(JSON.parse(new TextDecoder().decode(output.stdout)), "");
  return examples;
}

/** Why `text` (an example, or a README code block) is not one a user can copy, if it is not. */
export function exampleProblems(text: string): string[] {
  const problems: string[] = [];
  const specifiers = [
    ...text.matchAll(/\bimport\s+(?:[^"';]*?\sfrom\s+)?"([^"]+)"|\bimport\(\s*"([^"]+)"\s*\)/g),
  ].map((match) => match[1] ?? match[2]);
  for (const specifier of specifiers) {
    const isPackage = /^(\.{1,2}\/)+(mod|cli)\.ts$/.test(specifier) ||
      /^(jsr:)?@ovtp\/ovtp(\/cli)?$/.test(specifier);
    if (!isPackage && !specifier.startsWith("node:")) {
      problems.push(`imports "${specifier}", which a JSR user does not have`);
    }
  }
  if (/```\w*\s+ignore/.test(text)) problems.push("is marked ignore, so no test runs it");
  if (/fixtures/.test(text)) problems.push("reads a test fixture, which is not published");
  return problems;
}

Deno.test("doc examples of mod.ts and cli.ts import only the package, read no fixture, and all run", async () => {
  const examples = [...await publicExamples("mod.ts"), ...await publicExamples("cli.ts")];
  assert.ok(examples.length >= 50, `only ${examples.length} examples found`);
  const problems = examples.flatMap(({ symbol, text }) =>
    exampleProblems(text).map((problem) =>
      `${symbol}: the example "${text.split("\n")[0]}" ${problem}`
    )
  );
  assert.deepEqual(problems, []);
});

Deno.test("exampleProblems() names an internal import, an ignored block and a fixture", () => {
  const text = '```ts ignore\nimport { ChunkTreeHasher } from "./chunk_tree.ts";\n' +
    'import { OvtpClient } from "../mod.ts";\n' +
    'await loadIdentity("tests/fixtures/keys/alice");\n```';
  assert.deepEqual(exampleProblems(text), [
    'imports "./chunk_tree.ts", which a JSR user does not have',
    "is marked ignore, so no test runs it",
    "reads a test fixture, which is not published",
  ]);
});

Deno.test("README.md TypeScript blocks import only the package", async () => {
  const readme = await Deno.readTextFile(join(repoRoot, "README.md"));
  const blocks = [...readme.matchAll(/```ts[^\n]*\n[\s\S]*?```/g)].map((match) => match[0]);
  assert.ok(blocks.some((block) => /from "@ovtp\/ovtp"/.test(block)));
  // Blocks marked ignore are fragments that continue the first one; they import nothing.
  const problems = blocks.flatMap((block) =>
    exampleProblems(block).filter((problem) => !/ignore/.test(problem))
      .map((problem) => `${block.split("\n")[1]} … ${problem}`)
  );
  assert.deepEqual(problems, []);
});
