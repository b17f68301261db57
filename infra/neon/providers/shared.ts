/**
 * What every Neon provider shares: inputs and outputs (Neon's own field names, snake_case, so a plan reads like the
 * API reference), `configure`, and the check and call helpers. The providers are serialized into each resource's
 * state by Pulumi: they must capture no secret (the API key is read at run time from the stack config via
 * `configure`, or NEON_API_KEY).
 *
 * How the engine drives them (see test/helpers/engine-lifecycle.ts for the sources): in a preview, inputs that
 * depend on outputs not yet known arrive as the unknown placeholder; a replacement creates the new resource before
 * deleting the old one unless the diff asks otherwise, so a `create` must never adopt the resource it replaces.
 */
import type * as pulumi from "@pulumi/pulumi";
import { isUnknown } from "../../dynamic/diff";
import { MAX_AUTOSCALING_RANGE_CU, NEON_CU } from "../limits";
import { NEON_API_KEY_CONFIG, setConfiguredApiKey } from "../client";

export type Provider = pulumi.dynamic.ResourceProvider;
export type Failure = pulumi.dynamic.CheckFailure;
/** Neon keeps a branch at most 30 days through `expires_at`. */
export const MAX_BRANCH_TTL_SECONDS = 30 * 24 * 3600;
/** History retention: 0..30 days (ProjectCreateRequest.history_retention_seconds in Neon's OpenAPI document). */
export const MAX_HISTORY_RETENTION_SECONDS = 2_592_000;

export interface ComputeSettings {
  autoscaling_limit_min_cu: number;
  autoscaling_limit_max_cu: number;
  /** -1 never suspends, 0 is Neon's default, else 60..604800. */
  suspend_timeout_seconds: number;
}

export interface ProjectInputs {
  name: string;
  region_id: string;
  pg_version: number;
  history_retention_seconds: number;
  default_endpoint_settings: ComputeSettings;
  /** Names Neon gives the default branch, its owner role and database at creation (the Role and Database resources own them afterwards; changing these later changes nothing). */
  branch: { name: string; role_name: string; database_name: string };
  /** The organization, for a personal API key (`neon.orgId`); an organization key implies it. Used to list and create only. */
  org_id?: string;
}
export interface ProjectOutputs extends ProjectInputs {
  project_id: string;
  default_branch_id: string;
  proxy_host: string;
}

export interface BranchInputs {
  project_id: string;
  name: string;
  /**
   * The project's default branch, which Neon makes with the project (named by its `branch.name`): adopted, never
   * created; deleted only with its project (Neon refuses deleting a default branch). Dev and prod declare it so their
   * children take its id, which the engine keeps known while the project previews an update.
   */
  default?: boolean;
  /** The parent branch; absent: the project's default branch. */
  parent_id?: string;
  /** RFC 3339 to the second; Neon deletes the branch after it. */
  expires_at?: string;
}
export interface BranchOutputs extends BranchInputs {
  branch_id: string;
}

export type EndpointType = "read_write" | "read_only";
export interface EndpointInputs extends ComputeSettings {
  project_id: string;
  branch_id: string;
  type: EndpointType;
  name: string;
  region_id: string;
}
export interface EndpointOutputs extends EndpointInputs {
  endpoint_id: string;
  /** `<endpoint id>.<region>.aws.neon.tech`; the pooled host inserts `-pooler` after the endpoint id. */
  host: string;
}

export interface RoleInputs {
  project_id: string;
  branch_id: string;
  name: string;
}
export interface RoleOutputs extends RoleInputs {
  /** Secret (additionalSecretOutputs). */
  password: string;
}

export interface DatabaseInputs {
  project_id: string;
  branch_id: string;
  name: string;
  owner_name: string;
}
export interface DatabaseOutputs extends DatabaseInputs {
  database_id: number;
}

export async function configure(req: pulumi.dynamic.ConfigureRequest): Promise<void> {
  setConfiguredApiKey(req.config.get(NEON_API_KEY_CONFIG));
}

/** Neon's compute rules, so a bad size is refused before any call (unknown values are checked at up time). */
export function computeFailures(c: Partial<ComputeSettings>, at = ""): Failure[] {
  const out: Failure[] = [];
  const sizes: readonly number[] = NEON_CU;
  const known = (v: unknown) => v !== undefined && !isUnknown(v);
  const min = Number(c.autoscaling_limit_min_cu);
  const max = Number(c.autoscaling_limit_max_cu);
  for (const [k, v] of [
    ["autoscaling_limit_min_cu", c.autoscaling_limit_min_cu],
    ["autoscaling_limit_max_cu", c.autoscaling_limit_max_cu],
  ] as const) {
    if (known(v) && !sizes.includes(Number(v))) {
      out.push({ property: `${at}${k}`, reason: `${String(v)} CU (allowed: ${sizes.join(", ")})` });
    }
  }
  if (known(c.autoscaling_limit_min_cu) && known(c.autoscaling_limit_max_cu) && out.length === 0) {
    if (max < min) out.push({ property: `${at}autoscaling_limit_max_cu`, reason: `${max} CU (allowed: >= ${min})` });
    else if (max - min > MAX_AUTOSCALING_RANGE_CU) {
      out.push({
        property: `${at}autoscaling_limit_max_cu`,
        reason: `${max} CU is ${max - min} CU above the minimum (allowed: max - min <= ${MAX_AUTOSCALING_RANGE_CU})`,
      });
    }
  }
  const s = Number(c.suspend_timeout_seconds);
  if (known(c.suspend_timeout_seconds) && !(s === -1 || s === 0 || (s >= 60 && s <= 604800))) {
    out.push({
      property: `${at}suspend_timeout_seconds`,
      reason: `${s} (allowed: -1 never, 0 Neon default, 60..604800)`,
    });
  }
  return out;
}

export function required(news: Record<string, unknown>, keys: readonly string[]): Failure[] {
  return keys
    .filter((k) => news[k] === undefined || news[k] === "")
    .map((k) => ({ property: k, reason: "is required (allowed: a non-empty value)" }));
}

export const compute = (c: ComputeSettings): ComputeSettings => ({
  autoscaling_limit_min_cu: c.autoscaling_limit_min_cu,
  autoscaling_limit_max_cu: c.autoscaling_limit_max_cu,
  suspend_timeout_seconds: c.suspend_timeout_seconds,
});

/**
 * An update of something Neon no longer has (an expired preview branch, a compute deleted in the console) fails
 * with what to run: `refresh` drops it from state, and the next `up` creates it again.
 */
export async function unlessGone<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    const err = e as { status?: number; message?: string };
    if (err?.status !== 404) throw e;
    throw Object.assign(
      new Error(
        `${what}: it no longer exists in Neon (expired or deleted outside Pulumi); run \`pulumi refresh\` or deploy with \`pulumi up --refresh\` to create it again (${err.message})`,
      ),
      { name: "NeonGoneError", status: 404 },
    );
  }
}

/** Every item of a paginated list: `next` gives the cursor of the page after `r`, or undefined at the end. */
export async function listAll<R, T>(
  fetchPage: (cursor: string | undefined) => Promise<R>,
  items: (r: R) => T[],
  next: (r: R, page: T[]) => string | undefined,
): Promise<T[]> {
  const all: T[] = [];
  let cursor: string | undefined;
  for (let pages = 0; pages < 1000; pages++) {
    const r = await fetchPage(cursor);
    const page = items(r);
    all.push(...page);
    cursor = next(r, page);
    if (!cursor) return all;
  }
  throw new Error("Neon API: a list did not end after 1000 pages");
}
