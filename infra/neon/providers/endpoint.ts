/** The Neon Endpoint provider: a branch's compute (read_write or read_only) and its autoscaling. */
import type { Endpoint } from "@neondatabase/api-client";
import { diffOf, isUnknown, same } from "../../dynamic/diff";
import { neonClient } from "../client";
import {
  compute,
  computeFailures,
  configure,
  required,
  unlessGone,
  type EndpointInputs,
  type EndpointOutputs,
  type EndpointType,
  type Provider,
} from "./shared";

async function findEndpoint(inputs: EndpointInputs): Promise<Endpoint | undefined> {
  const client = neonClient();
  const list = await client.read(`list endpoints of branch ${inputs.branch_id}`, (p) =>
    client.api.listProjectBranchEndpoints(inputs.project_id, inputs.branch_id, p),
  );
  // A branch has one read_write endpoint: adopt it whatever its name (a project's default compute has none).
  if (inputs.type === "read_write") return list.endpoints.find((e) => e.type === "read_write");
  // A replica of another region is not this one (a replacement's old replica): make a new one.
  return list.endpoints.find(
    (e) => e.type === inputs.type && e.name === inputs.name && e.region_id === inputs.region_id,
  );
}

function endpointOutputs(inputs: EndpointInputs, e: Endpoint): EndpointOutputs {
  return { ...inputs, endpoint_id: e.id, host: e.host };
}

const endpointSettings = (e: EndpointInputs) => ({ name: e.name, ...compute(e) });

async function updateEndpoint(projectId: string, endpointId: string, news: EndpointInputs): Promise<Endpoint> {
  const client = neonClient();
  const res = await unlessGone(`update endpoint ${news.name}`, () =>
    client.write(projectId, `update endpoint ${news.name}`, (p) =>
      client.api.updateProjectEndpoint(projectId, endpointId, { endpoint: endpointSettings(news) }, p),
    ),
  );
  return res!.endpoint;
}

export const endpointProvider: Provider = {
  configure,
  async check(_olds: EndpointInputs, news: EndpointInputs) {
    const failures = [...required(news as never, ["project_id", "branch_id", "name"]), ...computeFailures(news)];
    if (news.type !== "read_write" && news.type !== "read_only" && !isUnknown(news.type)) {
      failures.push({ property: "type", reason: `'${String(news.type)}' (allowed: read_write, read_only)` });
    }
    return { inputs: news, failures };
  },
  async diff(_id: string, olds: EndpointOutputs, news: EndpointInputs) {
    // A branch holds one read_write endpoint (Neon's 409 "read-write endpoint already exists", counted in
    // neondatabase/neon-pkgs#307): its replacement must wait for the old one to go.
    return diffOf(
      olds as never,
      news as never,
      ["project_id", "branch_id", "type", "region_id"],
      ["name", "autoscaling_limit_min_cu", "autoscaling_limit_max_cu", "suspend_timeout_seconds"],
      news.type === "read_write",
    );
  },
  async create(inputs: EndpointInputs) {
    const client = neonClient();
    const result = await client.createOrAdopt({
      what: `create ${inputs.type} endpoint ${inputs.name}`,
      projectId: inputs.project_id,
      find: () => findEndpoint(inputs),
      create: (p) =>
        client.api.createProjectEndpoint(
          inputs.project_id,
          {
            endpoint: {
              branch_id: inputs.branch_id,
              type: inputs.type as Endpoint["type"],
              region_id: inputs.region_id,
              ...endpointSettings(inputs),
            },
          },
          p,
        ),
      remove: async (res) => {
        await client.write(
          inputs.project_id,
          `roll back endpoint ${inputs.name}`,
          (p) => client.api.deleteProjectEndpoint(inputs.project_id, res.endpoint.id, p),
          { gone: true },
        );
      },
    });
    if (result.adopted) {
      const e = result.value;
      const current = { name: e.name, ...compute(e) };
      const endpoint = same(current, endpointSettings(inputs))
        ? e
        : await updateEndpoint(inputs.project_id, e.id, inputs);
      return { id: endpoint.id, outs: endpointOutputs(inputs, endpoint) };
    }
    return { id: result.response.endpoint.id, outs: endpointOutputs(inputs, result.response.endpoint) };
  },
  async read(id: string, props?: EndpointOutputs) {
    const client = neonClient();
    const projectId = props!.project_id;
    const got = await client.readOptional(`read endpoint ${id}`, (p) =>
      client.api.getProjectEndpoint(projectId, id, p),
    );
    if (!got) return {};
    const e = got.endpoint;
    const outs: EndpointOutputs = {
      ...props!,
      branch_id: e.branch_id,
      type: e.type as EndpointType,
      name: e.name ?? props!.name,
      region_id: e.region_id,
      ...compute(e),
      endpoint_id: e.id,
      host: e.host,
    };
    return { id, props: outs };
  },
  async update(id: string, olds: EndpointOutputs, news: EndpointInputs) {
    const endpoint = await updateEndpoint(olds.project_id, id, news);
    return { outs: endpointOutputs(news, endpoint) };
  },
  async delete(id: string, props: EndpointOutputs) {
    const client = neonClient();
    await client.write(
      props.project_id,
      `delete endpoint ${props.name}`,
      (p) => client.api.deleteProjectEndpoint(props.project_id, id, p),
      { gone: true },
    );
  },
};
