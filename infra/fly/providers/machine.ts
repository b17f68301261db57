/** The Fly Machine provider: create-or-adopt by name, updates under the machine's lease, a graceful stop before destroy. */
import { diffOf, isUnknown, same } from "../../dynamic/diff";
import { LEASE_NONCE_HEADER, flyClient, isNotFound, type FlyClient } from "../client";
import {
  LEASE_TTL_SECONDS,
  MAX_STOP_TIMEOUT_SECONDS,
  configure,
  projectConfig,
  required,
  seconds,
  transient,
  type FlyMachine,
  type MachineConfig,
  type MachineInputs,
  type MachineOutputs,
  type Provider,
} from "./shared";

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
