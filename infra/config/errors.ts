/**
 * Turns zod issues into `<yaml path>: <what is wrong> (allowed: <what>)` lines, all of them at once.
 */
import type { z } from "zod";
import { CONFIG_NAMESPACE, stackConfigSchema } from "./schema";

export class ConfigError extends Error {
  constructor(
    readonly problems: string[],
    readonly source: string,
  ) {
    super(`invalid stack config (${source}):\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

/** `config.mauntic-infra:workers.crm.database` — the path as it reads in Pulumi.<stack>.yaml. */
export function yamlPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return "config";
  const [top, ...rest] = path;
  let out = `config.${CONFIG_NAMESPACE}:${String(top)}`;
  for (const p of rest) out += typeof p === "number" ? `[${p}]` : `.${String(p)}`;
  return out;
}

type AnySchema = z.core.$ZodType;

/** The schema node at a path, looking through optional/default/nullable/record/array wrappers. */
function schemaAt(path: readonly PropertyKey[]): AnySchema | undefined {
  let node: AnySchema | undefined = stackConfigSchema;
  const unwrap = (n: AnySchema): AnySchema => {
    let cur = n;
    for (;;) {
      const def = cur._zod.def as { type: string; innerType?: AnySchema; in?: AnySchema };
      if ((def.type === "optional" || def.type === "default" || def.type === "nullable") && def.innerType) {
        cur = def.innerType;
      } else if (def.type === "pipe" && def.in) {
        cur = def.in;
      } else return cur;
    }
  };
  for (const p of path) {
    if (!node) return undefined;
    node = unwrap(node);
    const def = node._zod.def as {
      type: string;
      shape?: Record<string, AnySchema>;
      valueType?: AnySchema;
      element?: AnySchema;
    };
    if (def.type === "object") node = def.shape?.[String(p)];
    else if (def.type === "record") node = def.valueType;
    else if (def.type === "array") node = def.element;
    else return undefined;
  }
  return node ? unwrap(node) : undefined;
}

function knownKeys(path: readonly PropertyKey[]): string {
  const node = schemaAt(path);
  const shape = (node?._zod.def as { shape?: Record<string, unknown> } | undefined)?.shape;
  return shape ? Object.keys(shape).join(", ") : "see infra/config/schema.ts";
}

function show(v: unknown): string {
  if (v === undefined) return "nothing";
  const s = JSON.stringify(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

function typeOf(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a map";
  return typeof v;
}

/** One human line per issue. */
export function formatIssue(issue: z.core.$ZodIssue): string[] {
  const at = yamlPath(issue.path);
  const input = (issue as { input?: unknown }).input;
  switch (issue.code) {
    case "invalid_type":
      if (input === undefined) return [`${at}: is required (allowed: ${issue.expected})`];
      return [`${at}: got ${typeOf(input)} ${show(input)} (allowed: ${issue.expected})`];
    case "invalid_value":
      return [`${at}: ${show(input)} is not allowed (allowed: ${issue.values.map((v) => String(v)).join(", ")})`];
    case "too_big": {
      const max = String(issue.maximum);
      const what = issue.origin === "array" || issue.origin === "string" ? `length ${show(input)}` : show(input);
      return [`${at}: ${what} is too big (allowed: ${issue.inclusive === false ? "<" : "<="} ${max})`];
    }
    case "too_small": {
      const min = String(issue.minimum);
      const noun = issue.origin === "array" ? "entries" : issue.origin === "string" ? "characters" : "";
      const what = noun ? `too few ${noun}` : `${show(input)} is too small`;
      return [`${at}: ${what} (allowed: ${issue.inclusive === false ? ">" : ">="} ${min}${noun ? ` ${noun}` : ""})`];
    }
    case "not_multiple_of":
      return [
        `${at}: ${show(input)} is not a multiple of ${String(issue.divisor)} (allowed: multiples of ${String(issue.divisor)})`,
      ];
    case "invalid_format":
      return [`${at}: ${show(input)} is not valid (allowed: ${issue.message})`];
    case "unrecognized_keys":
      return issue.keys.map((k) => `${yamlPath([...issue.path, k])}: unknown key (allowed: ${knownKeys(issue.path)})`);
    case "invalid_key":
      return issue.issues.flatMap((sub) =>
        formatIssue({ ...sub, path: [...issue.path, ...(sub.path ?? [])] } as z.core.$ZodIssue).map((l) =>
          l.replace(/ is not valid /, " is not a valid name "),
        ),
      );
    case "custom": {
      const params = (issue as { params?: { allowed?: string } }).params;
      return [`${at}: ${issue.message}${params?.allowed ? ` (allowed: ${params.allowed})` : ""}`];
    }
    default:
      return [`${at}: ${issue.message}`];
  }
}

export function formatIssues(issues: readonly z.core.$ZodIssue[]): string[] {
  return issues.flatMap(formatIssue);
}
