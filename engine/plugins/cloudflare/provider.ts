/**
 * Stand-in for the `cloudflare` provider plugin (pulumi-cloudflare 6.22.1, the @pulumi/cloudflare version the program
 * pins). The Go module proxy answers 403 for github.com/pulumi/pulumi-cloudflare/provider/v6 (v6.0.0, v6.10.0,
 * v6.13.0, v6.22.1), so the Terraform-bridged plugin cannot be built here; this serves exactly the types the program
 * declares (resources.ts) and the getZone invoke, against Cloudflare's API v4 at `cloudflare:baseUrl` /
 * CLOUDFLARE_BASE_URL. README.md names what that leaves unproven.
 *
 * Engine-facing behaviour, as the bridged plugin shows it:
 * - config `cloudflare:apiToken` / `cloudflare:baseUrl` (Configure), else CLOUDFLARE_API_TOKEN / CLOUDFLARE_BASE_URL
 *   (the provider's schema: api_token and base_url fall back to those variables);
 * - check: required inputs present, no unknown input names, schema defaults applied;
 * - diff: a change of an input the schema marks RequiresReplace is a replacement, any other an update; an input the
 *   user leaves out that the API fills (computed) is not a change;
 * - preview (dry run): create and update call no API; computed outputs are unknown;
 * - read (refresh): a resource the API answers 404 for is gone (Read: RemoveResource on 404);
 * - secrets: a secret input keeps its output secret (the engine does this for top-level properties; the Hyperdrive
 *   origin password is re-wrapped here, as the bridge does for Sensitive attributes).
 */
import type * as dynamic from "@pulumi/pulumi/provider";
import type { PluginConfig, PluginProvider } from "../serve";
import { containsUnknown, isUnknown, reveal, sameValue, UNKNOWN } from "../wire";
import { CloudflareClient, DEFAULT_BASE_URL } from "./client";
import { getZone, RESOURCES, type Props, type ResourceKind } from "./resources";

export const CLOUDFLARE_VERSION = "6.22.1";
export const GET_ZONE = "cloudflare:index/getZone:getZone";

/** The type token of a URN (`urn:pulumi:<stack>::<project>::<parent types$>type::<name>`). */
export function typeOf(urn: string): string {
  return urn.split("::")[2]!.split("$").at(-1)!;
}

/** True when `news` says nothing `olds` does not: every value set in news equals olds' (arrays element-wise). */
export function subsetEqual(news: unknown, olds: unknown): boolean {
  const n = reveal(news);
  const o = reveal(olds);
  if (Array.isArray(n)) return Array.isArray(o) && n.length === o.length && n.every((x, i) => subsetEqual(x, o[i]));
  if (typeof n === "object" && n !== null) {
    if (typeof o !== "object" || o === null || Array.isArray(o)) return false;
    return Object.entries(n).every(([k, v]) => v === undefined || v === null || subsetEqual(v, (o as Props)[k]));
  }
  return sameValue(n, o);
}

function applyDefaults(inputs: Props, defaults: Props | undefined): Props {
  const out = { ...inputs };
  for (const [k, d] of Object.entries(defaults ?? {})) {
    if (typeof d === "object" && d !== null) {
      if (out[k] !== undefined && !isUnknown(out[k])) out[k] = { ...d, ...out[k] };
    } else if (out[k] === undefined) {
      out[k] = d;
    }
  }
  return out;
}

const ENUMS: Record<string, Record<string, string[]>> = {
  // r2_bucket/schema.go, r2_bucket_cors/schema.go ...: jurisdiction OneOfCaseInsensitive("default", "eu", "fedramp").
  jurisdiction: { any: ["default", "eu", "fedramp"] },
  // r2_bucket/schema.go location OneOfCaseInsensitive.
  location: { "cloudflare:index/r2Bucket:R2Bucket": ["apac", "eeur", "enam", "weur", "wnam", "oc"] },
  // ruleset/schema.go kind OneOf("managed", "custom", "root", "zone").
  kind: { "cloudflare:index/ruleset:Ruleset": ["managed", "custom", "root", "zone"] },
};

export function cloudflareProvider(env: NodeJS.ProcessEnv = process.env): PluginProvider & {
  client(): CloudflareClient;
} {
  const byToken = new Map(RESOURCES.map((r) => [r.token, r]));
  let config: PluginConfig = {};
  const kindOf = (urn: string): ResourceKind => {
    const kind = byToken.get(typeOf(urn));
    if (!kind)
      throw new Error(
        `the cloudflare stand-in plugin does not serve ${typeOf(urn)} (it serves ${[...byToken.keys()].join(", ")})`,
      );
    return kind;
  };
  const client = () => {
    const token = config.apiToken ?? env.CLOUDFLARE_API_TOKEN;
    if (!token)
      throw new Error(
        "cloudflare: no API token: set `pulumi config set --secret cloudflare:apiToken` or CLOUDFLARE_API_TOKEN",
      );
    return new CloudflareClient({ token, baseUrl: config.baseUrl ?? env.CLOUDFLARE_BASE_URL ?? DEFAULT_BASE_URL });
  };

  return {
    version: CLOUDFLARE_VERSION,
    client,

    configure(c) {
      config = c;
    },

    async check(urn, _olds, news) {
      const kind = kindOf(urn);
      const failures: dynamic.CheckFailure[] = [];
      for (const k of kind.required) {
        if (news[k] === undefined || news[k] === null)
          failures.push({ property: k, reason: `Missing required argument: ${k}` });
      }
      for (const k of Object.keys(news)) {
        if (!kind.inputs.includes(k) && !k.startsWith("__"))
          failures.push({ property: k, reason: `unknown property ${k}` });
      }
      for (const [k, byType] of Object.entries(ENUMS)) {
        const allowed = byType[kind.token] ?? byType.any;
        const v = news[k];
        if (!allowed || !kind.inputs.includes(k) || v === undefined || containsUnknown(v)) continue;
        if (!allowed.includes(String(reveal(v)).toLowerCase())) {
          failures.push({
            property: k,
            reason: `${k} must be one of ${allowed.join(", ")}, got ${JSON.stringify(reveal(v))}`,
          });
        }
      }
      // hyperdrive_config/schema.go origin_connection_limit: int64validator.AtLeast(5), checked at plan time.
      const limit = kind.inputs.includes("originConnectionLimit") ? news.originConnectionLimit : undefined;
      if (typeof reveal(limit) === "number" && (reveal(limit) as number) < 5) {
        failures.push({
          property: "originConnectionLimit",
          reason: `originConnectionLimit must be at least 5, got ${reveal(limit)}`,
        });
      }
      const inputs = applyDefaults(news, kind.defaults);
      return failures.length > 0 ? { inputs, failures } : { inputs };
    },

    async diff(_id, urn, olds, news) {
      const kind = kindOf(urn);
      const changed = kind.inputs.filter((k) => {
        if (kind.ignoreChanges?.includes(k) && olds[k] !== undefined) return false;
        const n = news[k];
        const o = olds[k];
        if (n === undefined || n === null) {
          // Left out: computed or defaulted inputs keep the API's value; anything else set before is now unset.
          return (
            o !== undefined &&
            o !== null &&
            !kind.computed.includes(k) &&
            !(kind.defaults && k in kind.defaults) &&
            k !== "description"
          );
        }
        return containsUnknown(n) || !subsetEqual(n, o);
      });
      return { changes: changed.length > 0, replaces: changed.filter((k) => kind.replaceOnChanges.includes(k)) };
    },

    async create(urn, inputs, preview) {
      const kind = kindOf(urn);
      if (preview) {
        return { id: "", outs: { ...inputs, ...Object.fromEntries(kind.computed.map((k) => [k, UNKNOWN])) } };
      }
      return kind.create(client(), inputs);
    },

    async read(id, urn, props, inputs) {
      const kind = kindOf(urn);
      const outs = await kind.read(client(), id, props);
      if (!outs) return {};
      const ins = inputs ?? Object.fromEntries(kind.inputs.filter((k) => k in props).map((k) => [k, props[k]]));
      return { id, props: outs, inputs: ins };
    },

    async update(id, urn, olds, news, preview) {
      const kind = kindOf(urn);
      if (preview) {
        return { outs: { ...olds, ...news, ...Object.fromEntries((kind.volatile ?? []).map((k) => [k, UNKNOWN])) } };
      }
      return { outs: await kind.update(client(), id, olds, news) };
    },

    async delete(id, urn, props) {
      await kindOf(urn).delete(client(), id, props);
    },

    async invoke(token, args) {
      if (token !== GET_ZONE) throw new Error(`the cloudflare stand-in plugin does not serve the invoke ${token}`);
      return { outputs: await getZone(client(), args) };
    },
  };
}
