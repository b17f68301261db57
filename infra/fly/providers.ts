/**
 * The Fly dynamic providers: create / read / diff / update / delete of App, Volume, Machine and Secrets over the
 * careful client. Inputs and outputs use the Machines API's own field names (snake_case, checked against Fly's
 * OpenAPI document: CreateAppRequest, CreateVolumeRequest, CreateMachineRequest, UpdateMachineRequest,
 * AppSecretsUpdateRequest, fly.MachineConfig), so a plan reads like the API reference. These objects are serialized
 * into each resource's state by Pulumi: they capture no secret (the token is read at run time from the stack config
 * via `configure`, or FLY_API_TOKEN).
 */
import type * as pulumi from "@pulumi/pulumi";
import { diffOf, isUnknown, same } from "../dynamic/diff";
import {
  FLY_API_TOKEN_CONFIG,
  LEASE_NONCE_HEADER,
  flyClient,
  isFlyApiError,
  isNotFound,
  outcomeUnknown,
  setConfiguredFlyToken,
  type FlyApiError,
  type FlyClient,
} from "./client";

type Provider = pulumi.dynamic.ResourceProvider;
type Failure = pulumi.dynamic.CheckFailure;

/** Fly's longest stop timeout (DESIGN.md, Fly Machines API facts). */
export const MAX_STOP_TIMEOUT_SECONDS = 300;
/** Seconds a lease lives: long enough for one update and its wait; Fly frees it after this if we die. */
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

interface FlyMachine {
  id: string;
  name: string;
  state: string;
  region: string;
  config: MachineConfig;
  instance_id?: string;
  version?: string;
  private_ip?: string;
}
interface FlyVolume {
  id: string;
  name: string;
  region: string;
  size_gb: number;
  state: string;
  encrypted?: boolean;
  attached_machine_id?: string | null;
  zone?: string;
}
interface FlyApp {
  id: string;
  name: string;
  status?: string;
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

async function configure(req: pulumi.dynamic.ConfigureRequest): Promise<void> {
  setConfiguredFlyToken(req.config.get(FLY_API_TOKEN_CONFIG));
}

/**
 * Fly's config seen through ours: only the keys we set, at every depth. What Fly fills in by itself (guest
 * defaults, restart defaults, metadata, `name`/`size_gb` on mounts, ...) is dropped, so a second `up` changes
 * nothing. A key Fly leaves out of its answer (write-only fields such as a file's raw_value) keeps our value.
 */
export function projectConfig(remote: unknown, ours: unknown): unknown {
  if (remote === undefined) return ours;
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

function required(news: Record<string, unknown>, keys: readonly string[]): Failure[] {
  return keys
    .filter((k) => news[k] === undefined || news[k] === "")
    .map((k) => ({ property: k, reason: "is required (allowed: a non-empty value)" }));
}

/** Worth another try of a create whose each attempt looks itself up by name first. */
const transient = (e: FlyApiError) => e.status === 429 || outcomeUnknown(e);

const seconds = (d: string | undefined) => (d && /^\d+s$/.test(d) ? Number(d.slice(0, -1)) : Number.NaN);

// ---- App ------------------------------------------------------------------------------------------------------

const APP_NAME = /^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/;

async function getApp(client: FlyClient, name: string): Promise<FlyApp | undefined> {
  return client.readOptional<FlyApp>({ what: `read app ${name}`, path: `/apps/${name}` });
}

export const appProvider: Provider = {
  configure,
  async check(_olds: AppInputs, news: AppInputs) {
    const failures = required(news as never, ["name", "org_slug"]);
    if (typeof news.name === "string" && !APP_NAME.test(news.name)) {
      failures.push({
        property: "name",
        reason: `'${news.name}' (allowed: 3..63 lowercase letters, digits and hyphens; it becomes a DNS label)`,
      });
    }
    return { inputs: news, failures };
  },
  async diff(_id: string, olds: AppOutputs, news: AppInputs) {
    // App names are global: a move to another org or network must free the name before the new app can take it.
    return diffOf(olds as never, news as never, ["name", "org_slug", "network"], [], olds.name === news.name);
  },
  async create(inputs: AppInputs) {
    const client = flyClient();
    // Fly's CreateAppRequest.idempotency_key makes a retry of this exact request return the app the first try made.
    const idempotencyKey = globalThis.crypto.randomUUID();
    let created: { id?: string } | undefined;
    try {
      created = await client.request<{ id?: string }>({
        what: `create app ${inputs.name}`,
        method: "POST",
        path: "/apps",
        body: {
          name: inputs.name,
          org_slug: inputs.org_slug,
          ...(inputs.network ? { network: inputs.network } : {}),
          idempotency_key: idempotencyKey,
        },
        retry: "all",
      });
    } catch (e) {
      if (!(isFlyApiError(e) && e.flyStatus === "name_taken")) throw e;
      // Ours already (an interrupted earlier run): adopt it. Anyone else's: the error says the name is taken.
      const existing = await getApp(client, inputs.name);
      if (!existing || existing.organization?.slug !== inputs.org_slug) throw e;
      created = existing;
    }
    const app = (await getApp(client, inputs.name)) ?? { id: created?.id ?? inputs.name, name: inputs.name };
    return { id: inputs.name, outs: { ...inputs, app_id: app.id } satisfies AppOutputs };
  },
  async read(id: string, props?: AppOutputs) {
    const app = await getApp(flyClient(), id);
    if (!app) return {};
    const outs: AppOutputs = { ...props!, name: app.name, app_id: app.id };
    if (app.organization?.slug) outs.org_slug = app.organization.slug;
    return { id, props: outs };
  },
  async delete(id: string) {
    const client = flyClient();
    try {
      await client.request({ what: `delete app ${id}`, method: "DELETE", path: `/apps/${id}`, retry: "all" });
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  },
};

// ---- Volume ---------------------------------------------------------------------------------------------------

const VOLUME_NAME = /^[a-z0-9_]{1,30}$/;
const volumeGone = (v: FlyVolume) =>
  ["destroyed", "destroying", "pending_destroy", "scheduling_destroy"].includes(v.state);

async function findVolume(client: FlyClient, inputs: VolumeInputs): Promise<FlyVolume | undefined> {
  const list = await client.request<FlyVolume[]>({
    what: `list volumes of app ${inputs.app_name}`,
    method: "GET",
    path: `/apps/${inputs.app_name}/volumes`,
    retry: "all",
  });
  const matches = list.filter((v) => v.name === inputs.name && v.region === inputs.region && !volumeGone(v));
  // An unattached one first: that is the one an interrupted create made.
  return matches.find((v) => !v.attached_machine_id) ?? matches[0];
}

async function extendVolume(client: FlyClient, app: string, id: string, size: number): Promise<void> {
  await client.request({
    what: `extend volume ${id} to ${size} GB`,
    method: "PUT",
    path: `/apps/${app}/volumes/${id}/extend`,
    body: { size_gb: size },
    retry: "all",
  });
}

export const volumeProvider: Provider = {
  configure,
  async check(olds: VolumeInputs | undefined, news: VolumeInputs) {
    const failures = required(news as never, ["app_name", "name", "region", "size_gb"]);
    if (typeof news.name === "string" && !VOLUME_NAME.test(news.name)) {
      failures.push({ property: "name", reason: `'${news.name}' (allowed: lowercase letters, digits, _; at most 30)` });
    }
    if (!(Number.isInteger(news.size_gb) && news.size_gb >= 1 && news.size_gb <= 500)) {
      failures.push({ property: "size_gb", reason: `${news.size_gb} (allowed: 1..500)` });
    } else if (olds?.size_gb && news.size_gb < olds.size_gb && olds.name === news.name) {
      // Fly only extends volumes; shrinking means a new, empty volume: the queues' data would be gone.
      failures.push({
        property: "size_gb",
        reason: `${news.size_gb} GB is smaller than the current ${olds.size_gb} GB (allowed: >= ${olds.size_gb}; Fly volumes only grow)`,
      });
    }
    const r = Number(news.snapshot_retention);
    if (!(Number.isInteger(r) && r >= 1 && r <= 60)) {
      failures.push({ property: "snapshot_retention", reason: `${news.snapshot_retention} (allowed: 1..60 days)` });
    }
    return { inputs: news, failures };
  },
  async diff(_id: string, olds: VolumeOutputs, news: VolumeInputs) {
    return diffOf(
      olds as never,
      news as never,
      ["app_name", "name", "region", "encrypted"],
      ["size_gb", "snapshot_retention"],
    );
  },
  async create(inputs: VolumeInputs) {
    const client = flyClient();
    const volume = await client.retry(transient, async (attempt) => {
      // Volume names are not unique on Fly: look first, so a create whose answer we lost is not made twice.
      const found = await findVolume(client, inputs);
      if (found) return found;
      return client.request<FlyVolume>({
        what: `create volume ${inputs.name}${attempt > 1 ? ` (attempt ${attempt})` : ""}`,
        method: "POST",
        path: `/apps/${inputs.app_name}/volumes`,
        body: {
          name: inputs.name,
          region: inputs.region,
          size_gb: inputs.size_gb,
          encrypted: inputs.encrypted,
          snapshot_retention: inputs.snapshot_retention,
          require_unique_zone: false,
        },
        retry: "refused",
      });
    });
    if (volume.size_gb < inputs.size_gb) await extendVolume(client, inputs.app_name, volume.id, inputs.size_gb);
    return { id: volume.id, outs: { ...inputs, volume_id: volume.id } satisfies VolumeOutputs };
  },
  async read(id: string, props?: VolumeOutputs) {
    const v = await flyClient().readOptional<FlyVolume>({
      what: `read volume ${id}`,
      path: `/apps/${props!.app_name}/volumes/${id}`,
    });
    if (!v || volumeGone(v)) return {};
    return { id, props: { ...props!, name: v.name, region: v.region, size_gb: v.size_gb, volume_id: v.id } };
  },
  async update(id: string, olds: VolumeOutputs, news: VolumeInputs) {
    const client = flyClient();
    if (news.size_gb > olds.size_gb) await extendVolume(client, news.app_name, id, news.size_gb);
    if (news.snapshot_retention !== olds.snapshot_retention) {
      await client.request({
        what: `update volume ${id}`,
        method: "PUT",
        path: `/apps/${news.app_name}/volumes/${id}`,
        body: { snapshot_retention: news.snapshot_retention },
        retry: "all",
      });
    }
    return { outs: { ...news, volume_id: id } satisfies VolumeOutputs };
  },
  async delete(id: string, props: VolumeOutputs) {
    try {
      await flyClient().request({
        what: `delete volume ${id}`,
        method: "DELETE",
        path: `/apps/${props.app_name}/volumes/${id}`,
        retry: "all",
      });
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  },
};

// ---- Machine --------------------------------------------------------------------------------------------------

const mountedVolumes = (c: MachineConfig | undefined) => (c?.mounts ?? []).map((m) => m.volume);
const machineVersion = (m: FlyMachine) => m.version ?? m.instance_id ?? "";
const machinePath = (app: string, id: string) => `/apps/${app}/machines/${id}`;

async function getMachine(client: FlyClient, app: string, id: string): Promise<FlyMachine | undefined> {
  const m = await client.readOptional<FlyMachine>({ what: `read machine ${id}`, path: machinePath(app, id) });
  return m && m.state !== "destroyed" ? m : undefined;
}

async function findMachine(client: FlyClient, inputs: MachineInputs): Promise<FlyMachine | undefined> {
  const list = await client.request<FlyMachine[]>({
    what: `list machines of app ${inputs.app_name}`,
    method: "GET",
    path: `/apps/${inputs.app_name}/machines`,
    retry: "all",
  });
  return list.find((m) => m.name === inputs.name && !["destroying", "destroyed"].includes(m.state));
}

function machineOutputs(inputs: MachineInputs, m: FlyMachine): MachineOutputs {
  return { ...inputs, machine_id: m.id, version: machineVersion(m), private_ip: m.private_ip ?? "" };
}

/** Holds the machine's lease around `fn`: no other deploy can change it meanwhile (409 while someone else holds it). */
async function withLease<T>(client: FlyClient, app: string, id: string, fn: (nonce: string) => Promise<T>): Promise<T> {
  const lease = await client.request<{ nonce: string }>({
    what: `acquire the lease of machine ${id}`,
    method: "POST",
    path: `${machinePath(app, id)}/lease`,
    body: { ttl: LEASE_TTL_SECONDS, description: "mauntic-infra: pulumi up" },
    // 409: another deploy (or flyctl) holds it; it ends within its TTL, so keep trying within the retry budget.
    retry: "refused",
    paceKey: `lease ${id}`,
  });
  try {
    return await fn(lease.nonce);
  } finally {
    // Best effort: an unreleased lease expires after LEASE_TTL_SECONDS anyway.
    await client
      .request({
        what: `release the lease of machine ${id}`,
        method: "DELETE",
        path: `${machinePath(app, id)}/lease`,
        headers: { [LEASE_NONCE_HEADER]: lease.nonce },
        retry: "all",
        paceKey: `release ${id}`,
      })
      .catch(() => undefined);
  }
}

/** Sends the whole config under the lease, then waits for the new version to be started. */
async function updateMachine(client: FlyClient, id: string, news: MachineInputs): Promise<FlyMachine> {
  return withLease(client, news.app_name, id, async (nonce) => {
    const m = await client.request<FlyMachine>({
      what: `update machine ${news.name}`,
      method: "POST",
      path: machinePath(news.app_name, id),
      headers: { [LEASE_NONCE_HEADER]: nonce },
      body: {
        name: news.name,
        region: news.region,
        config: news.config,
        ...(news.min_secrets_version !== undefined ? { min_secrets_version: news.min_secrets_version } : {}),
      },
      // The whole config, under our lease: sending it twice leaves the same machine.
      retry: "all",
      paceKey: `update ${id}`,
    });
    await client.waitForState(news.app_name, id, "started", machineVersion(m) || undefined);
    return m;
  });
}

export const machineProvider: Provider = {
  configure,
  async check(_olds: MachineInputs, news: MachineInputs) {
    const failures = required(news as never, ["app_name", "name", "region", "config"]);
    if (news.config && !news.config.image) failures.push({ property: "config.image", reason: "is required" });
    const stop = news.config?.stop_config;
    if (stop) {
      const s = seconds(stop.timeout);
      if (!(s >= 1 && s <= MAX_STOP_TIMEOUT_SECONDS)) {
        failures.push({
          property: "config.stop_config.timeout",
          reason: `'${stop.timeout}' (allowed: "<n>s", 1..${MAX_STOP_TIMEOUT_SECONDS})`,
        });
      }
    }
    return { inputs: news, failures };
  },
  async diff(_id: string, olds: MachineOutputs, news: MachineInputs) {
    // Machine names are unique in an app: a region move frees the name first.
    const d = diffOf(
      olds as never,
      news as never,
      ["app_name", "name", "region"],
      ["config", "min_secrets_version"],
      olds.name === news.name,
    );
    // "You cannot change which volume a Machine is attached to by updating the Machine's config" (Fly docs,
    // Machines resource): a new volume means a new machine.
    const mounts = mountedVolumes(news.config);
    if (isUnknown(mounts) || same(mountedVolumes(olds.config), mounts)) return d;
    return {
      ...d,
      changes: true,
      replaces: [...(d.replaces ?? []), "config.mounts"],
      deleteBeforeReplace: olds.name === news.name,
    };
  },
  async create(inputs: MachineInputs) {
    const client = flyClient();
    let adopted = false;
    const machine = await client.retry(transient, async (attempt) => {
      // A create whose answer we lost made the machine already: find it by name rather than make a second one.
      const found = await findMachine(client, inputs);
      if (found) {
        adopted = true;
        return found;
      }
      return client.request<FlyMachine>({
        what: `create machine ${inputs.name} in ${inputs.region}${attempt > 1 ? ` (attempt ${attempt})` : ""}`,
        method: "POST",
        path: `/apps/${inputs.app_name}/machines`,
        body: {
          name: inputs.name,
          region: inputs.region,
          config: inputs.config,
          ...(inputs.min_secrets_version !== undefined ? { min_secrets_version: inputs.min_secrets_version } : {}),
        },
        // insufficient_capacity and name_taken are answers, not hiccups: reported in words, not retried.
        retry: "refused",
        paceKey: `create machine ${inputs.app_name}`,
      });
    });
    let m = machine;
    if (adopted && !same(projectConfig(machine.config, inputs.config), inputs.config)) {
      m = await updateMachine(client, machine.id, inputs);
    } else {
      await client.waitForState(inputs.app_name, machine.id, "started", machineVersion(machine) || undefined);
    }
    const fresh = (await getMachine(client, inputs.app_name, m.id)) ?? m;
    return { id: m.id, outs: machineOutputs(inputs, fresh) };
  },
  async read(id: string, props?: MachineOutputs) {
    const m = await getMachine(flyClient(), props!.app_name, id);
    if (!m) return {};
    const outs: MachineOutputs = {
      ...props!,
      name: m.name,
      region: m.region,
      config: projectConfig(m.config, props!.config) as MachineConfig,
      machine_id: m.id,
      version: machineVersion(m),
      private_ip: m.private_ip ?? props!.private_ip,
    };
    return { id, props: outs };
  },
  async update(id: string, _olds: MachineOutputs, news: MachineInputs) {
    const client = flyClient();
    await updateMachine(client, id, news);
    const fresh = await getMachine(client, news.app_name, id);
    if (!fresh) throw new Error(`Fly machine ${id} of app ${news.app_name} vanished during its update`);
    return { outs: machineOutputs(news, fresh) };
  },
  async delete(id: string, props: MachineOutputs) {
    const client = flyClient();
    const app = props.app_name;
    const m = await getMachine(client, app, id);
    if (!m) return;
    if (m.state === "started" || m.state === "starting") {
      // A graceful stop first: the worker gets its stop signal and stop_config's timeout to finish its jobs.
      const stop = props.config.stop_config;
      await client.request({
        what: `stop machine ${props.name}`,
        method: "POST",
        path: `${machinePath(app, id)}/stop`,
        body: stop ? { signal: stop.signal, timeout: stop.timeout } : {},
        retry: "all",
        paceKey: `stop ${id}`,
      });
    }
    if (["started", "starting", "stopping"].includes(m.state)) {
      // Waiting for `stopped` needs the machine's version (Fly docs, Machines resource: wait).
      await client.waitForState(app, id, "stopped", machineVersion(m) || undefined);
    }
    try {
      await client.request({
        what: `destroy machine ${props.name}`,
        method: "DELETE",
        path: machinePath(app, id),
        retry: "all",
        paceKey: `destroy ${id}`,
      });
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  },
};

// ---- Secrets --------------------------------------------------------------------------------------------------

const SECRET_NAME = /^[A-Z_][A-Z0-9_]*$/;

function generated(): string {
  const bytes = new Uint8Array(20);
  globalThis.crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

interface SecretsUpdateResp {
  version?: number;
  Version?: number;
}

async function setSecrets(client: FlyClient, app: string, values: Record<string, string>): Promise<number> {
  const res = await client.request<SecretsUpdateResp>({
    what: `set ${Object.keys(values).length} secret(s) of app ${app}`,
    method: "POST",
    path: `/apps/${app}/secrets`,
    body: { values },
    // The same values again leave the same secrets.
    retry: "all",
  });
  return res.version ?? res.Version ?? 0;
}

async function unsetSecret(client: FlyClient, app: string, name: string): Promise<number | undefined> {
  try {
    const res = await client.request<SecretsUpdateResp>({
      what: `unset secret ${name} of app ${app}`,
      method: "DELETE",
      path: `/apps/${app}/secrets/${name}`,
      retry: "all",
    });
    return res?.version ?? res?.Version;
  } catch (e) {
    if (isNotFound(e)) return undefined;
    throw e;
  }
}

/** The values to hold: the declared ones, plus generated ones (kept from before, or new). */
function withGenerated(inputs: SecretsInputs, kept: Record<string, string> = {}): Record<string, string> {
  const out = { ...inputs.values };
  for (const name of inputs.generate ?? []) out[name] ??= kept[name] ?? generated();
  return out;
}

export const secretsProvider: Provider = {
  configure,
  async check(_olds: SecretsInputs, news: SecretsInputs) {
    const failures = required(news as never, ["app_name"]);
    const names = [...Object.keys(news.values ?? {}), ...(news.generate ?? [])];
    for (const n of names) {
      if (!SECRET_NAME.test(n))
        failures.push({ property: `values.${n}`, reason: "(allowed: an env var name, A-Z 0-9 _)" });
    }
    if (names.length === 0) failures.push({ property: "values", reason: "is empty (allowed: at least one secret)" });
    return { inputs: news, failures };
  },
  async diff(_id: string, olds: SecretsOutputs, news: SecretsInputs) {
    // Generated values are ours to keep: only declared values and the set of generated names count.
    const declared = Object.fromEntries(
      Object.entries(olds.values ?? {}).filter(([k]) => !(olds.generate ?? []).includes(k)),
    );
    const changed = !same(declared, news.values) || !same(olds.generate ?? [], news.generate ?? []);
    const replaces = news.app_name !== undefined && olds.app_name !== news.app_name ? ["app_name"] : [];
    return { changes: changed || replaces.length > 0, replaces, deleteBeforeReplace: false };
  },
  async create(inputs: SecretsInputs) {
    const client = flyClient();
    const values = withGenerated(inputs);
    const version = await setSecrets(client, inputs.app_name, values);
    return { id: inputs.app_name, outs: { ...inputs, values, version } satisfies SecretsOutputs };
  },
  async read(id: string, props?: SecretsOutputs) {
    const client = flyClient();
    const listed = await client.readOptional<{ secrets?: { name: string }[] }>({
      what: `list secrets of app ${props!.app_name}`,
      path: `/apps/${props!.app_name}/secrets`,
    });
    if (!listed) return {};
    const present = new Set((listed.secrets ?? []).map((s) => s.name));
    // A secret removed outside Pulumi drops out of state, so the next diff sets it again.
    const values = Object.fromEntries(Object.entries(props!.values ?? {}).filter(([k]) => present.has(k)));
    if (Object.keys(values).length === 0) return {};
    return { id, props: { ...props!, values } };
  },
  async update(_id: string, olds: SecretsOutputs, news: SecretsInputs) {
    const client = flyClient();
    const values = withGenerated(news, olds.values);
    let version = await setSecrets(client, news.app_name, values);
    for (const name of Object.keys(olds.values ?? {})) {
      if (!(name in values)) version = (await unsetSecret(client, news.app_name, name)) ?? version;
    }
    return { outs: { ...news, values, version } satisfies SecretsOutputs };
  },
  async delete(_id: string, props: SecretsOutputs) {
    const client = flyClient();
    for (const name of Object.keys(props.values ?? {})) await unsetSecret(client, props.app_name, name);
  },
};
