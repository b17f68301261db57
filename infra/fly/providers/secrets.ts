/** The Fly Secrets provider: the app's secrets, generated ones kept; its version rolls the machines. */
import { same, UNKNOWN } from "../../dynamic/diff";
import { flyClient, isNotFound, type FlyClient } from "../client";
import { configure, required, type Provider, type SecretsInputs, type SecretsOutputs } from "./shared";

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
    // In a preview the whole map is the engine's unknown placeholder (a string) when a value in it comes from a
    // resource not made yet: its names are checked when it is known.
    const pending = (news.values as unknown) === UNKNOWN;
    const names = [...Object.keys(pending ? {} : (news.values ?? {})), ...(news.generate ?? [])];
    for (const n of names) {
      if (!SECRET_NAME.test(n))
        failures.push({ property: `values.${n}`, reason: "(allowed: an env var name, A-Z 0-9 _)" });
    }
    if (names.length === 0 && !pending)
      failures.push({ property: "values", reason: "is empty (allowed: at least one secret)" });
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
      // The last version we wrote: the list reflects at least that write (fly-go ListAppSecrets `version`).
      query: { version: props!.version || undefined },
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
