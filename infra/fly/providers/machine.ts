/** The Fly Machine provider: create-or-adopt by name, updates under the machine's lease, a graceful stop before destroy. */
import { diffOf, isUnknown, same, UNKNOWN } from "../../dynamic/diff";
import { LEASE_NONCE_HEADER, flyClient, isNotFound, type FlyClient } from "../client";
import { getMachine, machinePath, machineVersion, settle, stopMachine, withLease } from "./machine-ops";
import {
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

/** Sends the whole config under the lease, then waits for the new version to be started and healthy. */
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
    return settle(client, news.app_name, id, machineVersion(m) || undefined, news.config);
  });
}

export const machineProvider: Provider = {
  configure,
  async check(_olds: MachineInputs, news: MachineInputs) {
    const failures = required(news as never, ["app_name", "name", "region", "config"]);
    // In a preview the whole config is the engine's unknown placeholder when a value in it is not known yet: it is
    // checked when it is known.
    if ((news.config as unknown) === UNKNOWN) return { inputs: news, failures };
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
    const fresh =
      adopted && !same(projectConfig(machine.config, inputs.config), inputs.config)
        ? await updateMachine(client, machine.id, inputs)
        : // Just created: a 404 means "not visible yet" (flyctl WaitForState, justCreated), not gone.
          await settle(client, inputs.app_name, machine.id, machineVersion(machine) || undefined, inputs.config, {
            justCreated: true, // made by this run, or by its lost first attempt
          });
    return { id: machine.id, outs: machineOutputs(inputs, fresh) };
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
    const fresh = await updateMachine(flyClient(), id, news);
    return { outs: machineOutputs(news, fresh) };
  },
  async delete(id: string, props: MachineOutputs) {
    const client = flyClient();
    const app = props.app_name;
    const m = await getMachine(client, app, id);
    if (!m) return;
    await withLease(client, app, id, async (nonce) => {
      if (["started", "starting", "replacing"].includes(m.state)) {
        // A graceful stop first: the worker gets its stop signal and stop_config's timeout to finish its jobs.
        await stopMachine(client, app, m, nonce, props.config.stop_config);
      } else if (m.state === "stopping") {
        await client.waitForState(app, id, "stopped", machineVersion(m) || undefined);
      }
      // failed and suspended machines are not running, but only `force` destroys them (Fly docs, Machines
      // resource: Delete a Machine permanently, `force`).
      const force = ["failed", "suspended"].includes(m.state);
      try {
        await client.request({
          what: `destroy machine ${props.name}`,
          method: "DELETE",
          path: machinePath(app, id),
          query: force ? { force: true } : undefined,
          headers: { [LEASE_NONCE_HEADER]: nonce },
          retry: "all",
          paceKey: `destroy ${id}`,
        });
      } catch (e) {
        if (!isNotFound(e)) throw e;
      }
    }).catch((e) => {
      if (!isNotFound(e)) throw e;
    });
  },
};
