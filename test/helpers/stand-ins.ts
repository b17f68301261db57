/**
 * Every service the program talks to, on 127.0.0.1, for a run of the real engine: the Neon API with real
 * PostgreSQL 17 behind its endpoints (reached by Neon's own host names, TLS verified), the Fly Machines API and the
 * Cloudflare API. `env` is what the engine and every plugin it starts need to reach them; the credentials are the
 * ones the stand-ins accept, for `pulumi config set --secret`.
 */
import { loadStackConfigFromFile } from "../../infra/config/load";
import { FakeCloudflareApi } from "../fakes/cloudflare-api";
import { FakeFly } from "../fakes/fly";
import { FakeNeon } from "../fakes/neon";
import { startNeonCompute, type NeonCompute } from "../fakes/neon-compute";

/** The stack secrets the README asks for, with the values the stand-ins accept. */
export const CREDENTIALS = {
  "mauntic-infra:neonApiKey": "neon-e2e-key",
  "mauntic-infra:flyApiToken": "fly-e2e-token",
  "cloudflare:apiToken": "cloudflare-e2e-token",
} as const;

export interface StandIns {
  neon: FakeNeon;
  compute: NeonCompute;
  fly: FakeFly;
  cloudflare: FakeCloudflareApi;
  /** The services' URLs and what child processes need to reach the computes by name. */
  env: NodeJS.ProcessEnv;
  stop(): Promise<void>;
}

/** The committed stacks' Cloudflare accounts and zones, registered with the Cloudflare stand-in. */
function registerZones(cloudflare: FakeCloudflareApi): void {
  for (const stack of ["dev", "prod"]) {
    const { accountId, zone } = loadStackConfigFromFile(stack).cloudflare;
    cloudflare.addZone(zone.zoneId, zone.name, zone.plan, accountId);
  }
}

/**
 * Starts them all. The computes' proxy listens on 5432, the port the program's URIs name (Neon's), so one suite at
 * a time can hold it.
 */
export async function startStandIns(opts: { port?: number } = {}): Promise<StandIns> {
  const neon = new FakeNeon(CREDENTIALS["mauntic-infra:neonApiKey"]);
  const fly = new FakeFly({ token: CREDENTIALS["mauntic-infra:flyApiToken"] });
  const cloudflare = new FakeCloudflareApi(CREDENTIALS["cloudflare:apiToken"]);
  const [neonUrl, flyUrl, cloudflareUrl] = await Promise.all([neon.start(), fly.start(), cloudflare.start()]);
  let compute: NeonCompute;
  try {
    compute = await startNeonCompute(neon, { port: opts.port ?? 5432 });
  } catch (e) {
    await Promise.all([neon.stop(), fly.stop(), cloudflare.stop()]);
    throw e;
  }
  registerZones(cloudflare);
  // Hyperdrive reaches its origin by the Neon host name: as DNS would, it lands on the computes' proxy.
  cloudflare.resolveOrigin = (host, port) =>
    host.endsWith(".neon.tech") ? { host: "127.0.0.1", port: compute.port } : { host, port };
  cloudflare.originCa = compute.ca;
  return {
    neon,
    compute,
    fly,
    cloudflare,
    env: {
      NEON_API_URL: neonUrl,
      FLY_API_URL: flyUrl,
      CLOUDFLARE_BASE_URL: cloudflareUrl,
      ...compute.env(),
    },
    async stop() {
      await compute.stop();
      await Promise.all([neon.stop(), fly.stop(), cloudflare.stop()]);
    },
  };
}
