import { stackPolicy, T, type PolicyMeta } from "./lib";

export const meta: PolicyMeta = {
  name: "no-plaintext-secrets",
  description:
    "No password, token or credentialed URI anywhere in the plan except where the program makes it a Pulumi secret (listed below, or the resource's additionalSecretOutputs).",
  why: "A credential outside a secret is stored in plain text in the state and printed by `pulumi preview`, `stack output` and CI logs.",
  enforcement: { prod: "mandatory", dev: "mandatory", preview: "mandatory" },
  remediation:
    "Wrap the value in `pulumi.secret(...)` where it is made and keep it to the listed places; if a new place needs one, add it to ALLOWED here with the test that shows it is secret in the plan.",
};

/**
 * The analyzer hands policies secrets decrypted (@pulumi/policy deserializeProperties(props, false)), so no policy
 * can see whether a value is a Pulumi secret. This one pins where a credential may be; test/plan.test.ts asserts
 * each of these is `[secret]` in the offline plan of every committed stack.
 */
export const ALLOWED: Record<string, string[]> = {
  [T.hyperdrive]: ["origin.password"], // the provider's schema marks it secret; the program passes a secret
  [T.command]: ["environment.DATABASE_URL"], // infra/postdeploy: pulumi.secret(directUri)
  [T.stack]: ["databaseDirectUri", "databasePooledUri", "databaseReplicaUri"],
  "mauntic:neon:Database": ["directUri", "pooledUri", "replicaUri"], // the component's registered outputs
};

const SECRET_KEY = /(password|passwd|secret|token|api[_-]?key|private[_-]?key|credentials?)$/i;
/** scheme://user:password@host */
const CREDENTIALED_URI = /\b[a-z][a-z0-9+.-]*:\/\/[^\s:/@]+:[^\s@/]+@/i;

function* credentials(v: unknown, path: string[]): Generator<string> {
  if (typeof v === "string") {
    const key = path[path.length - 1] ?? "";
    if (CREDENTIALED_URI.test(v) || (SECRET_KEY.test(key) && v.length > 0)) yield path.join(".");
  } else if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) yield* credentials(v[i], [...path, String(i)]);
  } else if (v && typeof v === "object") {
    for (const [k, x] of Object.entries(v)) yield* credentials(x, [...path, k]);
  }
}

export const noPlaintextSecrets = stackPolicy(meta, ({ resources }, report) => {
  for (const r of resources) {
    const allowed = ALLOWED[r.type] ?? [];
    const secretOutputs = new Set(r.opts.additionalSecretOutputs);
    for (const p of credentials(r.props, [])) {
      if (allowed.includes(p) || secretOutputs.has(p.split(".")[0]!)) continue;
      report(`${p} holds a credential in plain text`, r.urn);
    }
  }
});
