/**
 * The one loader of a stack's config. Offline it reads `Pulumi.<stack>.yaml` with `yaml`; under the engine it
 * reads the same keys through `pulumi.Config`. Both feed `parseStackConfig`, so both give the same object.
 * Preview stacks `pr-<N>` have no file: their config is dev's with `previewOverrides`.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as YAML from "yaml";
import { parseStackName, STACK_NAME } from "../naming";
import { ConfigError, formatIssues, yamlPath } from "./errors";
import { CONFIG_KEYS, CONFIG_NAMESPACE, stackConfigSchema, type StackConfig } from "./schema";

export { ConfigError } from "./errors";

/**
 * The project root: where Pulumi.yaml and the stack files live. MAUNTIC_PROJECT_DIR names another copy of the
 * project (a workspace of the end-to-end suite, whose stack files are its own); default: this checkout.
 */
export const PROJECT_DIR = process.env.MAUNTIC_PROJECT_DIR
  ? path.resolve(process.env.MAUNTIC_PROJECT_DIR)
  : path.resolve(__dirname, "..", "..");

export function stackFilePath(stack: string, projectDir = PROJECT_DIR): string {
  return path.join(projectDir, `Pulumi.${stack}.yaml`);
}

/**
 * The committed stack files, `Pulumi.<stack>.yaml` with a valid stack name, sorted by stack and each read once
 * (the checks that span stacks, zone ownership and the Hyperdrive budget, share one read).
 */
export function committedStacks(projectDir = PROJECT_DIR): { stack: string; raw: RawStackConfig }[] {
  return fs
    .readdirSync(projectDir)
    .map((f) => /^Pulumi\.(.+)\.yaml$/.exec(f))
    .filter((m): m is RegExpExecArray => m !== null && STACK_NAME.test(m[1]!))
    .sort((a, b) => a[1]!.localeCompare(b[1]!))
    .map((m) => ({ stack: m[1]!, raw: readStackFile(path.join(projectDir, m[0])) }));
}

/** The raw `mauntic-infra:*` values of a stack file, keyed without the namespace (`secure:` values left out). */
export interface RawStackConfig {
  values: Record<string, unknown>;
  source: string;
}

/** Keys that may appear in a stack file beside the schema: secrets read by the credential helpers. */
export const SECRET_KEYS = ["neonApiKey", "flyApiToken"] as const;

/**
 * Provider config keys that hold credentials and must be `secure:` (README "Credentials"): the Cloudflare
 * provider's token, global API key and origin CA key (@pulumi/cloudflare config/vars.d.ts).
 */
export const PROVIDER_SECRET_KEYS = [
  "cloudflare:apiToken",
  "cloudflare:apiKey",
  "cloudflare:apiUserServiceKey",
] as const;

const isSecure = (v: unknown) => v !== null && typeof v === "object" && !Array.isArray(v) && "secure" in v;

/** Duplicate map keys, as YAML paths (the YAML library can parse them; we report each one). */
function configPathOfDuplicate(node: unknown, at: string[], out: string[]): void {
  if (!YAML.isMap(node)) return;
  const seen = new Set<string>();
  for (const item of node.items) {
    const key = YAML.isScalar(item.key) ? String(item.key.value) : String(item.key);
    if (seen.has(key)) out.push([...at, key].join("."));
    seen.add(key);
    configPathOfDuplicate(item.value, [...at, key], out);
  }
}

/** Parses a stack file's text. Throws ConfigError listing every YAML problem. */
export function parseStackFile(text: string, source: string): RawStackConfig {
  const doc = YAML.parseDocument(text, { uniqueKeys: false, prettyErrors: true });
  const problems = doc.errors.map((e) => `${source}: ${e.message.split("\n")[0]}`);
  const dupes: string[] = [];
  configPathOfDuplicate(doc.contents, [], dupes);
  problems.push(...dupes.map((d) => `${d}: duplicate key (allowed: each key once)`));
  if (problems.length) throw new ConfigError(problems, source);

  let root: unknown;
  try {
    // yaml refuses documents whose aliases expand past its limit ("alias bomb") and other pathological input here.
    root = doc.toJS();
  } catch (e) {
    throw new ConfigError(
      [
        `config: the YAML cannot be read: ${(e as Error).message} (allowed: plain YAML, aliases expanding to a small document)`,
      ],
      source,
    );
  }
  if (root === null || typeof root !== "object" || Array.isArray(root)) {
    throw new ConfigError([`config: the file is not a map (allowed: a map with a 'config' key)`], source);
  }
  const config = (root as Record<string, unknown>).config;
  if (config === undefined || config === null) return { values: {}, source };
  if (typeof config !== "object" || Array.isArray(config)) {
    throw new ConfigError([`config: got ${JSON.stringify(config)} (allowed: a map of namespaced keys)`], source);
  }
  const values: Record<string, unknown> = {};
  const unknown: string[] = [];
  for (const [k, v] of Object.entries(config as Record<string, unknown>)) {
    // Encrypted secrets (`secure:`) are Pulumi's to decrypt; the credential helpers read them under the engine.
    if (isSecure(v)) continue;
    if ((PROVIDER_SECRET_KEYS as readonly string[]).includes(k)) {
      unknown.push(`config.${k}: a plain-text secret (allowed: set it with 'pulumi config set --secret ${k}')`);
      continue;
    }
    if (!k.startsWith(`${CONFIG_NAMESPACE}:`)) continue; // other provider keys, such as cloudflare:baseUrl
    const key = k.slice(CONFIG_NAMESPACE.length + 1);
    if ((CONFIG_KEYS as string[]).includes(key)) values[key] = v;
    else if ((SECRET_KEYS as readonly string[]).includes(key)) {
      unknown.push(
        `${yamlPath([key])}: a plain-text secret (allowed: set it with 'pulumi config set --secret ${key}')`,
      );
    } else unknown.push(`${yamlPath([key])}: unknown key (allowed: ${[...CONFIG_KEYS, ...SECRET_KEYS].join(", ")})`);
  }
  if (unknown.length) throw new ConfigError(unknown, source);
  return { values, source };
}

export function readStackFile(file: string): RawStackConfig {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (e) {
    throw new ConfigError([`cannot read ${file}: ${(e as Error).message}`], file);
  }
  return parseStackFile(text, path.basename(file));
}

/** Validates raw values for a stack. Lists every problem, and checks the file is for this kind of stack. */
export function parseStackConfig(stack: string, values: Record<string, unknown>, source: string): StackConfig {
  const { kind } = parseStackName(stack);
  let result: ReturnType<typeof stackConfigSchema.safeParse>;
  try {
    result = stackConfigSchema.safeParse(values, { reportInput: true });
  } catch (e) {
    // A check that met a shape it did not expect: still a problem of this file, never a crash.
    throw new ConfigError([`config: cannot be validated (${(e as Error).message})`], source);
  }
  const problems = result.success ? [] : formatIssues(result.error.issues);
  const env = values.environment;
  if (typeof env === "string" && env !== kind) {
    problems.push(`${yamlPath(["environment"])}: '${env}' does not match stack '${stack}' (allowed: ${kind})`);
  }
  if (problems.length || !result.success) throw new ConfigError(problems, source);
  return result.data;
}

/**
 * Preview stacks: dev's config with the smallest compute, no replica, a branch TTL, prefixed hostnames, no zone
 * ruleset ownership and one machine per queue worker.
 */
export function previewOverrides(dev: StackConfig, stack: string): StackConfig {
  const { pr } = parseStackName(stack);
  if (pr === undefined) throw new Error(`${stack} is not a preview stack`);
  const prefix = (host: string) => {
    const [first, ...rest] = host.split(".");
    return [`pr-${pr}-${first}`, ...rest].join(".");
  };
  const smallest = { minCu: 0.25, maxCu: 0.25, suspendTimeoutSeconds: 300 } as const;
  return {
    ...dev,
    environment: "preview",
    cloudflare: {
      ...dev.cloudflare,
      ownsResponseHeaderRuleset: false,
      hosts: {
        api: prefix(dev.cloudflare.hosts.api),
        assets: prefix(dev.cloudflare.hosts.assets),
        landing: prefix(dev.cloudflare.hosts.landing),
        tracking: prefix(dev.cloudflare.hosts.tracking),
      },
    },
    neon: { ...dev.neon, primary: { ...smallest }, replica: { ...smallest, enabled: false } },
    fly: {
      ...dev.fly,
      // Its own small Redis: the smallest VM Fly offers and a 1 GB volume, one machine (no replicas, no Sentinels).
      redis: { ...dev.fly.redis, vmSize: "shared-cpu-1x", memoryMb: 256, volumeSizeGb: 1, replicas: 0 },
      queueWorkers: Object.fromEntries(
        Object.entries(dev.fly.queueWorkers).map(([n, q]) => [n, { ...q, count: Math.min(q.count, 1) }]),
      ),
    },
  };
}

export interface LoadOptions {
  /** Read this file instead of Pulumi.<stack>.yaml (previews: instead of Pulumi.dev.yaml). */
  configFile?: string;
  projectDir?: string;
}

/**
 * A stack's config from its raw values: a preview stack `pr-<N>` takes dev's values (validated as dev) with the
 * preview overrides; dev and prod take their own.
 */
export function stackConfigFromValues(stack: string, values: Record<string, unknown>, source: string): StackConfig {
  if (parseStackName(stack).kind !== "preview") return parseStackConfig(stack, values, source);
  // A preview's values are dev's (copied, or a preview's own file that says `environment: preview`).
  const asDev = values.environment === "preview" ? { ...values, environment: "dev" } : values;
  try {
    return previewOverrides(parseStackConfig("dev", asDev, source), stack);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    const env = yamlPath(["environment"]);
    const problems = e.problems.map((p) =>
      p.startsWith(`${env}: '`)
        ? p.replace(
            / does not match stack 'dev' \(allowed: dev\)$/,
            ` does not match stack '${stack}' (allowed: preview, or dev)`,
          )
        : p,
    );
    throw new ConfigError(problems, source);
  }
}

/**
 * The file a stack's config is read from offline: the one given, or its own; a preview's own file counts only when
 * it holds `mauntic-infra:` values (Pulumi writes one with just `encryptionsalt` or `secure:` secrets after
 * `pulumi config set --secret -s pr-<N>`), else the preview takes dev's, as under the engine.
 */
export function configFileOf(stack: string, opts: LoadOptions = {}): string {
  const { kind } = parseStackName(stack);
  if (opts.configFile) return opts.configFile;
  const own = stackFilePath(stack, opts.projectDir);
  if (kind !== "preview") return own;
  return fs.existsSync(own) && Object.keys(readStackFile(own).values).length > 0
    ? own
    : stackFilePath("dev", opts.projectDir);
}

/** Offline: the stack file through `yaml`. */
export function loadStackConfigFromFile(stack: string, opts: LoadOptions = {}): StackConfig {
  const raw = readStackFile(configFileOf(stack, opts));
  return stackConfigFromValues(stack, raw.values, raw.source);
}

/** The minimal view of `pulumi.Config` the loader needs (so tests can check both paths give one result). */
export interface ConfigReader {
  get(key: string): string | undefined;
}

/**
 * Under the engine: the same keys through `pulumi.Config`. A preview stack with no config of its own derives
 * from dev's committed file, exactly as offline.
 */
export function loadStackConfigFromEngine(stack: string, reader: ConfigReader, projectDir = PROJECT_DIR): StackConfig {
  const values: Record<string, unknown> = {};
  for (const key of CONFIG_KEYS) {
    const text = reader.get(key);
    if (text === undefined) continue;
    // The engine hands structured values over as JSON text and plain strings as they are.
    try {
      values[key] = JSON.parse(text) as unknown;
    } catch {
      values[key] = text;
    }
  }
  // A preview stack with no config of its own (the usual case) derives from dev's committed file.
  if (Object.keys(values).length === 0 && parseStackName(stack).kind === "preview") {
    return loadStackConfigFromFile(stack, { projectDir });
  }
  return stackConfigFromValues(stack, values, `stack ${stack}`);
}
