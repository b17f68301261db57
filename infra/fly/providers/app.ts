/** The Fly App provider: an app holds the machines, volumes and secrets; its name is one global namespace. */
import { diffOf } from "../../dynamic/diff";
import { flyClient, isFlyApiError, isNotFound, type FlyClient } from "../client";
import { configure, required, type AppInputs, type AppOutputs, type FlyApp, type Provider } from "./shared";

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
        // fly-go CreateApp posts to /apps?wait=true: Fly answers once the app is set up.
        query: { wait: true },
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
      const existing = await getApp(client, inputs.name).catch((err) => {
        // fly-go AppNameAvailable: a name held by an organization we cannot see answers GET /apps/{name} with 403.
        if (isFlyApiError(err) && err.status === 403) throw e;
        throw err;
      });
      if (!existing || existing.organization?.slug !== inputs.org_slug) throw e;
      if ((existing.network || undefined) !== inputs.network && inputs.network) {
        throw new Error(
          `Fly app ${inputs.name} exists on network '${existing.network || "default"}', not '${inputs.network}' (allowed: an app's network is fixed at create; destroy it or pick another name)`,
        );
      }
      created = existing;
    }
    // flyctl waits for a new app before using it (fly-go flaps WaitForApp: GET /apps/{name}, retrying 404 and 401).
    const app = await client.until(
      `Fly app ${inputs.name} is still not visible after its create`,
      client.settings.visibilityTimeoutMs,
      () =>
        getApp(client, inputs.name).catch((err) => {
          if (isFlyApiError(err) && err.status === 401) return undefined;
          throw err;
        }),
    );
    return { id: inputs.name, outs: { ...inputs, app_id: app.id ?? created?.id ?? inputs.name } satisfies AppOutputs };
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
      // `force`: "Stop all Machines and delete the app immediately" (Fly docs, Apps resource: Delete an app), so a
      // stray machine made outside Pulumi does not hold the delete up.
      await client.request({
        what: `delete app ${id}`,
        method: "DELETE",
        path: `/apps/${id}`,
        query: { force: true },
        retry: "all",
      });
    } catch (e) {
      if (!isNotFound(e)) throw e;
      return;
    }
    // The delete is asynchronous (202 accepted): the name is free only once the app answers 404.
    await client.until(`Fly app ${id} is still there after its delete`, client.settings.stateTimeoutMs, async () =>
      (await getApp(client, id)) ? undefined : true,
    );
  },
};
