/**
 * What every Fly provider shares: the Machines API shapes we send and read, `configure`, and the check helpers.
 * Inputs and outputs use the Machines API's own field names (snake_case), so a plan reads like the API reference.
 * The providers are serialized into each resource's state by Pulumi: they capture no secret (the token is read at
 * run time from the stack config via `configure`, or FLY_API_TOKEN).
 */
import type * as pulumi from "@pulumi/pulumi";
import { FLY_API_TOKEN_CONFIG, outcomeUnknown, setConfiguredFlyToken, type FlyApiError } from "../client";

export type Provider = pulumi.dynamic.ResourceProvider;
export type Failure = pulumi.dynamic.CheckFailure;

/** Fly's longest stop timeout (DESIGN.md, Fly Machines API facts). */
export const MAX_STOP_TIMEOUT_SECONDS = 300;
/** Seconds a lease lives; withLease refreshes it while held (a 300 s stop plus a start outlasts it), Fly frees it after this if we die. */
export const LEASE_TTL_SECONDS = 120;

// ---- Machines API shapes (the subset we send and read; names as in Fly's OpenAPI components) ---------------------

export interface MachineGuest {
  cpu_kind: "shared" | "performance";
  cpus: number;
  memory_mb: number;
}
export interface MachineCheck {
  type: "tcp" | "http";
  port: number;
  interval: string;
  timeout: string;
  grace_period?: string;
  path?: string;
}
export interface MachineConfig {
  image: string;
  guest: MachineGuest;
  init?: { exec?: string[]; cmd?: string[]; entrypoint?: string[] };
  env?: Record<string, string>;
  files?: { guest_path: string; raw_value?: string; secret_name?: string }[];
  mounts?: { volume: string; path: string }[];
  restart?: { policy: "no" | "always" | "on-failure"; max_retries?: number };
  checks?: Record<string, MachineCheck>;
  services?: unknown[];
  stop_config?: { signal: string; timeout: string };
  metadata?: Record<string, string>;
}

/**
 * fly-go `Machine` (machine_types.go). States: created, starting, started, stopping, stopped, suspending, suspended,
 * replacing, failed, destroying, destroyed (fly-go MachineState* constants; flyctl deploy reads `replacing` and
 * `failed`).
 */
export interface FlyMachine {
  id: string;
  name: string;
  state: string;
  /** fly-go `Checks []*MachineCheckStatus{Name, Status passing|warning|critical, Output}`. */
  checks?: { name: string; status: string; output?: string }[];
  region: string;
  config: MachineConfig;
  instance_id?: string;
  version?: string;
  private_ip?: string;
}
/**
 * fly-go `Volume` (volume_types.go). States seen in Fly's docs and answers: creating, created, hydrating, restoring,
 * extending, waiting_for_detach, pending_destroy, scheduling_destroy, destroying, destroyed.
 */
export interface FlyVolume {
  id: string;
  name: string;
  region: string;
  size_gb: number;
  state: string;
  encrypted?: boolean;
  attached_machine_id?: string | null;
  zone?: string;
}
/** fly-go flaps `App{ID, Name, Network, Status, Organization{Slug}}`. */
export interface FlyApp {
  id: string;
  name: string;
  status?: string;
  network?: string;
  organization?: { slug?: string };
}

// ---- inputs and outputs ---------------------------------------------------------------------------------------

export type AppInputs = {
  name: string;
  org_slug: string;
  /** A custom 6PN network; absent: the organization's default network. */
  network?: string;
};
export type AppOutputs = AppInputs & {
  app_id: string;
};

export type VolumeInputs = {
  app_name: string;
  /** Fly volume names: lowercase letters, digits and underscores, at most 30. */
  name: string;
  region: string;
  size_gb: number;
  encrypted: boolean;
  /** Days of daily snapshots Fly keeps (1..60). */
  snapshot_retention: number;
  /**
   * The guest of the machine that will mount it: placement puts the volume on a host where that machine fits
   * (fly-go CreateVolumeRequest.ComputeRequirements, `compute`). Used at create only.
   */
  compute?: MachineGuest;
  /**
   * Place it on hardware holding no other volume of that name, or with `unique_zone_app_wide` no other volume of the
   * app (Machines API volumes resource `require_unique_zone`; fly-go CreateVolumeRequest `unique_zone_app_wide`).
   * Used at create only, like `compute`.
   */
  require_unique_zone?: boolean;
  unique_zone_app_wide?: boolean;
};
export type VolumeOutputs = VolumeInputs & {
  volume_id: string;
};

export type MachineInputs = {
  app_name: string;
  name: string;
  region: string;
  config: MachineConfig;
  /** The app's secrets version this machine must see (Secrets output `version`): a new version rolls the machine. */
  min_secrets_version?: number;
};
export type MachineOutputs = MachineInputs & {
  machine_id: string;
  /** Fly's machine version (instance_id): each config update makes a new one. */
  version: string;
  /** The machine's 6PN IPv6 address. */
  private_ip: string;
};

export type SecretsInputs = {
  app_name: string;
  /** Secret values to set (a Pulumi secret). */
  values: Record<string, string>;
  /** Names whose values this resource generates once (40 hex characters) and keeps; e.g. REDIS_PASSWORD. */
  generate?: string[];
};
export type SecretsOutputs = SecretsInputs & {
  /** Every value set, generated ones included (additionalSecretOutputs). */
  values: Record<string, string>;
  /** Fly's secrets version after the last write: machines take it as min_secrets_version. */
  version: number;
};

// ---- shared pieces ------------------------------------------------------------------------------------------

export async function configure(req: pulumi.dynamic.ConfigureRequest): Promise<void> {
  setConfiguredFlyToken(req.config.get(FLY_API_TOKEN_CONFIG));
}

/**
 * Fly's config seen through ours: only the keys we set, at every depth. What Fly fills in by itself (guest
 * defaults, restart defaults, metadata, `name`/`size_gb` on mounts, ...) is dropped, so a second `up` changes
 * nothing. A key Fly leaves out of its answer (write-only fields such as a file's raw_value) keeps our value.
 */
export function projectConfig(remote: unknown, ours: unknown): unknown {
  if (remote === undefined) return ours;
  // Fly echoes durations as Go's time.Duration.String() (fly-go duration.go): "60s" comes back "1m0s".
  if (typeof ours === "string" && typeof remote === "string" && sameDuration(ours, remote)) return ours;
  if (Array.isArray(ours)) {
    if (!Array.isArray(remote)) return remote;
    return remote.map((r, i) => (i < ours.length ? projectConfig(r, ours[i]) : r));
  }
  if (ours && typeof ours === "object") {
    if (!remote || typeof remote !== "object" || Array.isArray(remote)) return remote;
    const r = remote as Record<string, unknown>;
    const o = ours as Record<string, unknown>;
    return Object.fromEntries(Object.keys(o).map((k) => [k, projectConfig(r[k], o[k])]));
  }
  return remote;
}

export function required(news: Record<string, unknown>, keys: readonly string[]): Failure[] {
  return keys
    .filter((k) => news[k] === undefined || news[k] === "")
    .map((k) => ({ property: k, reason: "is required (allowed: a non-empty value)" }));
}

/** Worth another try of a create whose each attempt looks itself up by name first. */
export const transient = (e: FlyApiError) => e.status === 429 || outcomeUnknown(e);

export const seconds = (d: string | undefined) => (d && /^\d+s$/.test(d) ? Number(d.slice(0, -1)) : Number.NaN);

const UNIT_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Milliseconds of a Go duration string ("1m0s", "90s", "1.5s", "500ms"), or NaN for anything else. */
export function goDurationMs(d: string): number {
  if (!/^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/.test(d)) return Number.NaN;
  let ms = 0;
  for (const [, n, , unit] of d.matchAll(/(\d+(\.\d+)?)(ns|us|µs|ms|s|m|h)/g)) ms += Number(n) * UNIT_MS[unit!]!;
  return ms;
}

const sameDuration = (a: string, b: string) => {
  const x = goDurationMs(a);
  return Number.isFinite(x) && x === goDurationMs(b);
};
