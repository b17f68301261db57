import * as fs from "node:fs";
import * as path from "node:path";
import * as YAML from "yaml";
import { known, stackOf, stackPolicy, T, UNKNOWN, type PolicyMeta } from "./lib";

export const meta: PolicyMeta = {
  name: "no-plaintext-secrets",
  description:
    "No password, token or credentialed URI anywhere in the plan except where the program makes it a Pulumi secret (listed below, or the resource's additionalSecretOutputs), and no provider config credential that is not a `secure:` stack config value.",
  why: "A credential outside a secret is stored in plain text in the state and printed by `pulumi preview`, `stack output` and CI logs.",
  enforcement: { prod: "mandatory", dev: "mandatory", preview: "mandatory" },
  remediation:
    "Wrap the value in `pulumi.secret(...)` where it is made and keep it to the listed places (if a new place needs one, add it to ALLOWED here with the test that shows it is secret in the plan); set a provider credential with `pulumi config set --secret <key>`.",
};

/**
 * The analyzer hands policies secrets decrypted (@pulumi/policy deserializeProperties(props, false)), so no policy
 * can see whether a value is a Pulumi secret. This one pins where a credential may be; test/plan.test.ts asserts
 * each of these is `[secret]` in the offline plan of every committed stack.
 */
export const ALLOWED: Record<string, string[]> = {
  [T.hyperdrive]: ["origin.password"], // the provider's schema marks it secret; the program passes a secret
  // infra/postdeploy: pulumi.secret(directUri); infra/cloudflare/r2.ts: a preview's emptier gets the secret
  // cloudflare:apiToken (Config.getSecret), which the real engine hands the pack decrypted
  [T.command]: ["environment.DATABASE_URL", "environment.CLOUDFLARE_API_TOKEN"],
  [T.stack]: ["databaseDirectUri", "databasePooledUri", "databaseReplicaUri", "flyRedisUrl"],
  "mauntic:fly:Redis": ["url"], // infra/fly/component.ts: pulumi.secret(redis URL with its password)
  "mauntic:neon:Database": ["directUri", "pooledUri", "replicaUri"], // the component's registered outputs
};

const SECRET_KEY = /(password|passwd|secret|token|api[_-]?key|private[_-]?key|credentials?)$/i;
/** scheme://user:password@host */
const CREDENTIALED_URI = /\b[a-z][a-z0-9+.-]*:\/\/[^\s:/@]+:[^\s@/]+@/i;

function* credentials(v: unknown, path: string[]): Generator<string> {
  if (typeof v === "string") {
    const key = path[path.length - 1] ?? "";
    if (CREDENTIALED_URI.test(v) || (SECRET_KEY.test(key) && v.length > 0)) yield path.join(".");
  } else if (v && typeof v === "object") {
    // Each value read through `known`: in a preview an unknown value is nothing in plain text (yet).
    for (const k of Object.keys(v)) {
      const x = known(() => (v as Record<string, unknown>)[k]);
      if (x !== UNKNOWN) yield* credentials(x, [...path, k]);
    }
  }
}

/** A provider resource: its props are its config, decrypted (pulumi v3.248.0 pkg/resource/deploy/target.go). */
export const PROVIDER_PREFIX = "pulumi:providers:";

/**
 * Where the stack files are: the project root, the pack's parent folder (`pulumi preview --policy-pack policies`
 * from the project). Node resolves a linked pack folder to its target, so a project that links `policies` reads
 * the target's stack files. Tests point it at a folder of their own.
 */
export const stackFiles = { dir: path.resolve(__dirname, "..") };

/**
 * The stack's secret config keys (`namespace:key`): those whose value in `Pulumi.<stack>.yaml` is, or holds, a
 * `secure:` ciphertext, which is how `pulumi config set --secret` stores a value (and the engine's Config.Secure:
 * a map or list holding a secure value is secure as a whole).
 * Why the file: a provider's props are its config with each secure key's value marked secret
 * (deploy/target.go GetPackageConfig: `property.New(v).WithSecret(c.Secure())`), and the engine sends them with
 * KeepSecrets (sdk/go/common/resource/plugin/analyzer_plugin.go AnalyzeStack), but @pulumi/policy 1.21 unwraps
 * every secret before a policy reads it (server.js: deserializeProperties(props, false)); its ConfigureStack
 * keeps the stack tags only and drops `configSecretKeys`, and the engine gives the pack process PULUMI_CONFIG (the
 * decrypted values) but no PULUMI_CONFIG_SECRET_KEYS (analyzer_plugin.go constructEnv). The stack file is where
 * secretness is written down.
 */
export function secretConfigKeys(stack: string): Set<string> {
  const file = path.join(stackFiles.dir, `Pulumi.${stack}.yaml`);
  if (!fs.existsSync(file)) return new Set();
  const config = ((YAML.parse(fs.readFileSync(file, "utf8")) as { config?: Record<string, unknown> } | null)?.config ??
    {}) as Record<string, unknown>;
  const holdsSecure = (v: unknown): boolean =>
    Array.isArray(v)
      ? v.some(holdsSecure)
      : !!v && typeof v === "object" && ("secure" in v || Object.values(v).some(holdsSecure));
  return new Set(
    Object.entries(config)
      .filter(([, v]) => holdsSecure(v))
      // `<namespace>:config:<name>` is the old spelling of `<namespace>:<name>` (sdk/go/common/resource/config/key.go ParseKey).
      .map(([k]) => k.replace(/^([^:]+):config:([^:]+)$/, "$1:$2")),
  );
}

/**
 * A provider prop's config key: the dynamic provider (`pulumi-nodejs`) gets every key with its namespace
 * (`mauntic-infra:neonApiKey`), any other provider the keys of its own package by name (`apiToken` of
 * `cloudflare`) (target.go GetPackageConfig).
 */
function configKeyOf(type: string, prop: string): string {
  const pkg = type.slice(PROVIDER_PREFIX.length);
  return pkg === "pulumi-nodejs" || prop.includes(":") ? prop : `${pkg}:${prop}`;
}

export const noPlaintextSecrets = stackPolicy(meta, ({ resources }, report) => {
  for (const r of resources) {
    if (r.type.startsWith(PROVIDER_PREFIX)) {
      const secret = secretConfigKeys(stackOf(r.urn));
      for (const p of credentials(r.props, [])) {
        const key = configKeyOf(r.type, p.split(".")[0]!);
        if (secret.has(key)) continue;
        report(
          `provider config ${key} holds a credential in plain text (set it with 'pulumi config set --secret ${key}')`,
          r.urn,
        );
      }
      continue;
    }
    const allowed = ALLOWED[r.type] ?? [];
    const secretOutputs = new Set(r.opts.additionalSecretOutputs);
    for (const p of credentials(r.props, [])) {
      if (allowed.includes(p) || secretOutputs.has(p.split(".")[0]!)) continue;
      report(`${p} holds a credential in plain text`, r.urn);
    }
  }
});
