/**
 * What the Machine and Volume providers do to a running machine: hold its lease (waiting out someone else's and
 * refreshing ours), wait for it to settle and pass its health checks, stop it gracefully. Shapes are fly-go's
 * (machine_types.go), which Fly's own clients decode; Fly's published OpenAPI document differs on the lease answer.
 */
import { LEASE_NONCE_HEADER, isFlyApiError, type FlyApiError, type FlyClient } from "../client";
import { LEASE_TTL_SECONDS, type FlyMachine, type MachineConfig } from "./shared";

export const machinePath = (app: string, id: string) => `/apps/${app}/machines/${id}`;
export const machineVersion = (m: FlyMachine) => m.version ?? m.instance_id ?? "";

/** fly-go `MachineLease{Status, Data *MachineLeaseData, Message, Code}`; flyctl reads `lease.Data.Nonce`. */
interface MachineLease {
  status?: string;
  data?: { nonce?: string; expires_at?: number; owner?: string; description?: string; version?: string } | null;
  message?: string;
  code?: string;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Who holds the machine's lease and until when (Fly docs, Machines resource: Get a Machine lease). */
async function leaseHolder(client: FlyClient, app: string, id: string): Promise<MachineLease["data"]> {
  const held = await client
    .readOptional<MachineLease>({ what: `read the lease of machine ${id}`, path: `${machinePath(app, id)}/lease` })
    .catch(() => undefined);
  return held?.data ?? undefined;
}

function leaseNonce(lease: MachineLease | undefined, id: string): string {
  const nonce = lease?.data?.nonce;
  // flyctl leasable_machine.go: a status other than "success", or no data, is no lease.
  if (lease?.status !== "success" || !nonce) {
    throw new Error(
      `Fly Machines API: acquire the lease of machine ${id} answered no lease (status ${lease?.status ?? "none"}${lease?.code ? `, code ${lease.code}` : ""}: ${lease?.message || "no message"})`,
    );
  }
  return nonce;
}

/**
 * Takes the machine's lease: a lease someone else holds (another deploy, flyctl) is waited out up to leaseWaitMs,
 * then named in the error. fly-go AcquireLease sends the TTL as `?ttl=`; Fly's docs example sends it in the body.
 */
async function acquireLease(client: FlyClient, app: string, id: string): Promise<string> {
  const deadline = Date.now() + client.settings.leaseWaitMs;
  for (;;) {
    try {
      const lease = await client.request<MachineLease>({
        what: `acquire the lease of machine ${id}`,
        method: "POST",
        path: `${machinePath(app, id)}/lease`,
        query: { ttl: LEASE_TTL_SECONDS },
        body: { ttl: LEASE_TTL_SECONDS, description: "mauntic-infra: pulumi up" },
        retry: "transient",
        paceKey: `lease ${id}`,
      });
      return leaseNonce(lease, id);
    } catch (e) {
      if (!(isFlyApiError(e) && e.status === 409)) throw e;
      const holder = await leaseHolder(client, app, id);
      const until = holder?.expires_at ? holder.expires_at * 1000 : Date.now() + client.settings.pollMs;
      if (Date.now() >= deadline) throw leaseHeldError(e, id, app, holder, client.settings.leaseWaitMs);
      await sleep(Math.max(client.settings.pollMs, Math.min(until - Date.now(), deadline - Date.now())));
    }
  }
}

function leaseHeldError(
  e: FlyApiError,
  id: string,
  app: string,
  holder: MachineLease["data"],
  waitedMs: number,
): Error {
  const who = holder?.owner ? `${holder.owner}${holder.description ? ` (${holder.description})` : ""}` : "someone";
  const until = holder?.expires_at ? ` until ${new Date(holder.expires_at * 1000).toISOString()}` : "";
  return Object.assign(
    new Error(
      `Fly machine ${id} of app ${app} is leased by ${who}${until}; waited ${Math.round(waitedMs / 1000)} s (allowed: wait for their deploy to end, or clear it: fly machine leases clear ${id} -a ${app}): ${e.flyMessage}`,
    ),
    { name: "FlyLeaseHeldError" },
  );
}

/**
 * Holds the machine's lease around `fn`, refreshing it every leaseRefreshMs (flyctl leasable_machine.go
 * StartBackgroundLeaseRefresh): a 300 s stop plus a start outlasts one LEASE_TTL_SECONDS.
 */
export async function withLease<T>(
  client: FlyClient,
  app: string,
  id: string,
  fn: (nonce: string) => Promise<T>,
): Promise<T> {
  const nonce = await acquireLease(client, app, id);
  const refresh = setInterval(() => {
    // Refresh: POST the lease again with our nonce (fly-go RefreshLease). A failed refresh is retried next tick.
    void client
      .request({
        what: `refresh the lease of machine ${id}`,
        method: "POST",
        path: `${machinePath(app, id)}/lease`,
        query: { ttl: LEASE_TTL_SECONDS },
        body: { ttl: LEASE_TTL_SECONDS, description: "mauntic-infra: pulumi up" },
        headers: { [LEASE_NONCE_HEADER]: nonce },
        retry: "none",
        paceKey: `refresh ${id}`,
      })
      .catch(() => undefined);
  }, client.settings.leaseRefreshMs);
  try {
    return await fn(nonce);
  } finally {
    clearInterval(refresh);
    // Best effort: an unreleased lease expires after LEASE_TTL_SECONDS anyway.
    await client
      .request({
        what: `release the lease of machine ${id}`,
        method: "DELETE",
        path: `${machinePath(app, id)}/lease`,
        headers: { [LEASE_NONCE_HEADER]: nonce },
        retry: "all",
        paceKey: `release ${id}`,
      })
      .catch(() => undefined);
  }
}

export async function getMachine(client: FlyClient, app: string, id: string): Promise<FlyMachine | undefined> {
  const m = await client.readOptional<FlyMachine>({ what: `read machine ${id}`, path: machinePath(app, id) });
  return m && m.state !== "destroyed" ? m : undefined;
}

/**
 * As flyctl's machine update (internal/machine/update.go): wait for the machine to settle, fail fast on `failed`,
 * then wait until every configured check reports and passes (leasable_machine.go WaitForHealthchecksToPass: a
 * machine with no results yet is not healthy). The next machine of a rollout starts only after this.
 */
export async function settle(
  client: FlyClient,
  app: string,
  id: string,
  version: string | undefined,
  config: MachineConfig,
  opts?: { justCreated?: boolean },
): Promise<FlyMachine> {
  await client.waitForState(app, id, "settled", version, opts);
  const logs = `its logs: fly logs -a ${app} -i ${id}`;
  const m = await getMachine(client, app, id);
  if (!m) throw new Error(`Fly machine ${id} of app ${app} vanished while starting`);
  if (m.state !== "started") {
    throw new Error(
      `Fly machine ${id} of app ${app} is ${m.state} after its ${opts?.justCreated ? "create" : "update"} (allowed: started); ${logs}`,
    );
  }
  const configured = Object.keys(config.checks ?? {});
  if (configured.length === 0) return m;
  let last = "no check results yet";
  return client.until(
    () => `Fly machine ${id} of app ${app}: health checks did not pass: ${last}; ${logs}`,
    client.settings.healthTimeoutMs,
    async () => {
      const now = await getMachine(client, app, id);
      if (!now) throw new Error(`Fly machine ${id} of app ${app} vanished while its checks ran`);
      if (now.state === "failed") throw new Error(`Fly machine ${id} of app ${app} failed; ${logs}`);
      const checks = now.checks ?? [];
      const failing = checks.filter((c) => c.status !== "passing");
      last =
        checks.length === 0
          ? "no check results yet"
          : failing.map((c) => `${c.name} ${c.status}${c.output ? ` (${c.output})` : ""}`).join(", ") || "";
      return checks.length >= configured.length && failing.length === 0 ? now : undefined;
    },
  );
}

/** A graceful stop with the machine's own stop_config (Fly docs, Machines resource: Stop a Machine), then its wait. */
export async function stopMachine(
  client: FlyClient,
  app: string,
  m: FlyMachine,
  nonce: string | undefined,
  stop = m.config?.stop_config,
): Promise<void> {
  await client.request({
    what: `stop machine ${m.name}`,
    method: "POST",
    path: `${machinePath(app, m.id)}/stop`,
    // fly-go StopMachineInput{Signal, Timeout}: the worker gets its signal and its time to finish its jobs.
    body: stop ? { signal: stop.signal, timeout: stop.timeout } : {},
    headers: nonce ? { [LEASE_NONCE_HEADER]: nonce } : undefined,
    retry: "all",
    paceKey: `stop ${m.id}`,
  });
  // Waiting for `stopped` needs the machine's version (Fly docs, Machines resource: wait).
  await client.waitForState(app, m.id, "stopped", machineVersion(m) || undefined);
}
