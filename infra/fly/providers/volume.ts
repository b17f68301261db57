/** The Fly Volume provider: a volume lives on one host; it only grows. */
import { diffOf } from "../../dynamic/diff";
import { LEASE_NONCE_HEADER, flyClient, isNotFound, outcomeUnknown, type FlyClient } from "../client";
import { getMachine, machinePath, machineVersion, settle, stopMachine, withLease } from "./machine-ops";
import {
  configure,
  required,
  transient,
  type FlyVolume,
  type Provider,
  type VolumeInputs,
  type VolumeOutputs,
} from "./shared";

const VOLUME_NAME = /^[a-z0-9_]{1,30}$/;
// Gone or going; `waiting_for_detach` is not: it is still bound to a machine being destroyed.
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

/**
 * Grows the volume. fly-go ExtendVolumeResponse{Volume, NeedsRestart}: "If needs_restart is true, then your Machine
 * needs to be restarted to make use of the added space" (Fly docs, Volumes resource: Extend a volume), so the
 * attached machine is stopped gracefully and started again, under its lease, and waited for.
 */
async function extendVolume(client: FlyClient, app: string, id: string, size: number): Promise<void> {
  const res = await client.request<{ volume?: FlyVolume; needs_restart?: boolean }>({
    what: `extend volume ${id} to ${size} GB`,
    method: "PUT",
    path: `/apps/${app}/volumes/${id}/extend`,
    body: { size_gb: size },
    retry: "all",
  });
  const machineId = res?.volume?.attached_machine_id;
  if (!res?.needs_restart || !machineId) return;
  const m = await getMachine(client, app, machineId);
  if (!m || m.state !== "started") return; // a stopped machine sees the new size at its next start
  await withLease(client, app, machineId, async (nonce) => {
    await stopMachine(client, app, m, nonce);
    await client.request({
      what: `start machine ${m.name} after growing volume ${id}`,
      method: "POST",
      path: `${machinePath(app, machineId)}/start`,
      headers: { [LEASE_NONCE_HEADER]: nonce },
      retry: "all",
      paceKey: `start ${machineId}`,
    });
    await settle(client, app, machineId, machineVersion(m) || undefined, m.config);
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
    ); // `compute` and the zone flags only steer placement at create (a volume never moves host): no change.
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
          // Prod's Redis group asks for a host of its own per volume (component.ts HA_VOLUME_PLACEMENT); else any host.
          require_unique_zone: inputs.require_unique_zone ?? false,
          ...(inputs.unique_zone_app_wide ? { unique_zone_app_wide: true } : {}),
          // fly-go CreateVolumeRequest.ComputeRequirements: place the volume where its machine fits.
          ...(inputs.compute ? { compute: inputs.compute } : {}),
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
    const client = flyClient();
    try {
      // For up to about a minute after its machine is destroyed, a volume answers 412 "failed_precondition: volume
      // is currently bound to machine" (fly-apps/terraform-provider-fly#218, #154): retried within the retry budget.
      await client.retry(
        (e) => e.status === 412 || e.status === 409 || e.status === 429 || outcomeUnknown(e),
        () =>
          client.request({
            what: `delete volume ${id}`,
            method: "DELETE",
            path: `/apps/${props.app_name}/volumes/${id}`,
            retry: "none",
          }),
      );
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  },
};
