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
