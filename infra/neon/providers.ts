/**
 * The Neon dynamic providers: create / read / diff / update / delete of Project, Branch, Endpoint, Role and
 * Database over the careful client. Inputs and outputs use Neon's own field names (snake_case) so a plan reads like
 * the API reference. These objects are serialized into each resource's state by Pulumi: they must capture no
 * secret (the API key is read at run time from the stack config via `configure`, or NEON_API_KEY).
 *
 * How the engine drives them (see test/helpers/engine-lifecycle.ts for the sources): in a preview, inputs that
 * depend on outputs not yet known arrive as the unknown placeholder; a replacement creates the new resource before
 * deleting the old one unless the diff asks otherwise, so a `create` must never adopt the resource it replaces.
 */
import type * as pulumi from "@pulumi/pulumi";
import type { Branch, Database, Endpoint, Project, ProjectListItem } from "@neondatabase/api-client";
import { diffOf, isUnknown, same } from "../dynamic/diff";
import { MAX_AUTOSCALING_RANGE_CU, NEON_CU } from "./limits";
import {
  NEON_API_KEY_CONFIG,
  neonClient,
  setConfiguredApiKey,
  unavailableProjectsError,
  type NeonClient,
} from "./client";

type Provider = pulumi.dynamic.ResourceProvider;
type Failure = pulumi.dynamic.CheckFailure;

/** Neon keeps a branch at most 30 days through `expires_at`. */
export const MAX_BRANCH_TTL_SECONDS = 30 * 24 * 3600;
/** History retention: 0..30 days (ProjectCreateRequest.history_retention_seconds in Neon's OpenAPI document). */
export const MAX_HISTORY_RETENTION_SECONDS = 2_592_000;
/** The engine's unknown placeholder in a preview (`unknownValue` in @pulumi/pulumi/runtime/rpc.js). */

export interface ComputeSettings {
  autoscaling_limit_min_cu: number;
  autoscaling_limit_max_cu: number;
  /** -1 never suspends, 0 is Neon's default, else 60..604800. */
  suspend_timeout_seconds: number;
}

export interface ProjectInputs {
  name: string;
  region_id: string;
  pg_version: number;
  history_retention_seconds: number;
  default_endpoint_settings: ComputeSettings;
  /** Names Neon gives the default branch, its owner role and database at creation (the Role and Database resources own them afterwards; changing these later changes nothing). */
  branch: { name: string; role_name: string; database_name: string };
  /** The organization, for a personal API key (`neon.orgId`); an organization key implies it. Used to list and create only. */
  org_id?: string;
}
export interface ProjectOutputs extends ProjectInputs {
  project_id: string;
  default_branch_id: string;
  proxy_host: string;
}

export interface BranchInputs {
  project_id: string;
  name: string;
  /**
   * The project's default branch, which Neon makes with the project (named by its `branch.name`): adopted, never
   * created; deleted only with its project (Neon refuses deleting a default branch). Dev and prod declare it so their
   * children take its id, which the engine keeps known while the project previews an update.
   */
  default?: boolean;
  /** The parent branch; absent: the project's default branch. */
  parent_id?: string;
  /** RFC 3339 to the second; Neon deletes the branch after it. */
  expires_at?: string;
}
export interface BranchOutputs extends BranchInputs {
  branch_id: string;
}

export type EndpointType = "read_write" | "read_only";
export interface EndpointInputs extends ComputeSettings {
  project_id: string;
  branch_id: string;
  type: EndpointType;
  name: string;
  region_id: string;
}
export interface EndpointOutputs extends EndpointInputs {
  endpoint_id: string;
  /** `<endpoint id>.<region>.aws.neon.tech`; the pooled host inserts `-pooler` after the endpoint id. */
  host: string;
}

export interface RoleInputs {
  project_id: string;
  branch_id: string;
  name: string;
}
export interface RoleOutputs extends RoleInputs {
  /** Secret (additionalSecretOutputs). */
  password: string;
}

export interface DatabaseInputs {
  project_id: string;
  branch_id: string;
  name: string;
  owner_name: string;
}
export interface DatabaseOutputs extends DatabaseInputs {
  database_id: number;
}

// ---- shared pieces -------------------------------------------------------------------------------------------

async function configure(req: pulumi.dynamic.ConfigureRequest): Promise<void> {
  setConfiguredApiKey(req.config.get(NEON_API_KEY_CONFIG));
}

/** Neon's compute rules, so a bad size is refused before any call (unknown values are checked at up time). */
function computeFailures(c: Partial<ComputeSettings>, at = ""): Failure[] {
  const out: Failure[] = [];
  const sizes: readonly number[] = NEON_CU;
  const known = (v: unknown) => v !== undefined && !isUnknown(v);
  const min = Number(c.autoscaling_limit_min_cu);
  const max = Number(c.autoscaling_limit_max_cu);
  for (const [k, v] of [
    ["autoscaling_limit_min_cu", c.autoscaling_limit_min_cu],
    ["autoscaling_limit_max_cu", c.autoscaling_limit_max_cu],
  ] as const) {
    if (known(v) && !sizes.includes(Number(v))) {
      out.push({ property: `${at}${k}`, reason: `${String(v)} CU (allowed: ${sizes.join(", ")})` });
    }
  }
  if (known(c.autoscaling_limit_min_cu) && known(c.autoscaling_limit_max_cu) && out.length === 0) {
    if (max < min) out.push({ property: `${at}autoscaling_limit_max_cu`, reason: `${max} CU (allowed: >= ${min})` });
    else if (max - min > MAX_AUTOSCALING_RANGE_CU) {
      out.push({
        property: `${at}autoscaling_limit_max_cu`,
        reason: `${max} CU is ${max - min} CU above the minimum (allowed: max - min <= ${MAX_AUTOSCALING_RANGE_CU})`,
      });
    }
  }
  const s = Number(c.suspend_timeout_seconds);
  if (known(c.suspend_timeout_seconds) && !(s === -1 || s === 0 || (s >= 60 && s <= 604800))) {
    out.push({
      property: `${at}suspend_timeout_seconds`,
      reason: `${s} (allowed: -1 never, 0 Neon default, 60..604800)`,
    });
  }
  return out;
}

function required(news: Record<string, unknown>, keys: readonly string[]): Failure[] {
  return keys
    .filter((k) => news[k] === undefined || news[k] === "")
    .map((k) => ({ property: k, reason: "is required (allowed: a non-empty value)" }));
}

const compute = (c: ComputeSettings): ComputeSettings => ({
  autoscaling_limit_min_cu: c.autoscaling_limit_min_cu,
  autoscaling_limit_max_cu: c.autoscaling_limit_max_cu,
  suspend_timeout_seconds: c.suspend_timeout_seconds,
});

/**
 * An update of something Neon no longer has (an expired preview branch, a compute deleted in the console) fails
 * with what to run: `refresh` drops it from state, and the next `up` creates it again.
 */
async function unlessGone<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    const err = e as { status?: number; message?: string };
    if (err?.status !== 404) throw e;
    throw Object.assign(
      new Error(
        `${what}: it no longer exists in Neon (expired or deleted outside Pulumi); run \`pulumi refresh\` or deploy with \`pulumi up --refresh\` to create it again (${err.message})`,
      ),
      { name: "NeonGoneError", status: 404 },
    );
  }
}

/** Every item of a paginated list: `next` gives the cursor of the page after `r`, or undefined at the end. */
async function listAll<R, T>(
  fetchPage: (cursor: string | undefined) => Promise<R>,
  items: (r: R) => T[],
  next: (r: R, page: T[]) => string | undefined,
): Promise<T[]> {
  const all: T[] = [];
  let cursor: string | undefined;
  for (let pages = 0; pages < 1000; pages++) {
    const r = await fetchPage(cursor);
    const page = items(r);
    all.push(...page);
    cursor = next(r, page);
    if (!cursor) return all;
  }
  throw new Error("Neon API: a list did not end after 1000 pages");
}

// ---- Project --------------------------------------------------------------------------------------------------

const PROJECT_PAGE = 400;

/** Projects named exactly `name` (Neon's `search` also matches parts of names and ids), over every page. */
async function projectsNamed(name: string, orgId: string | undefined): Promise<ProjectListItem[]> {
  const client = neonClient();
  const what = `list projects named ${name}`;
  // A slow list leaves projects out and names them in unavailable_project_ids: listed again, so none is missed.
  const all = await client.retrying(() =>
    listAll(
      async (cursor) => {
        const page = await client.read(what, (p) =>
          client.api.listProjects(
            { search: name, limit: PROJECT_PAGE, ...(cursor ? { cursor } : {}), ...(orgId ? { org_id: orgId } : {}) },
            p,
          ),
        );
        if (page.unavailable_project_ids?.length) throw unavailableProjectsError(what, page.unavailable_project_ids);
        return page;
      },
      (r) => r.projects,
      // Pagination.cursor is always there: a short page is the last one.
      (r, page) => (page.length === PROJECT_PAGE ? r.pagination?.cursor : undefined),
    ),
  );
  return all.filter((p) => p.name === name);
}

/** The project's default branch (`default: true` in Neon's branch list). */
async function defaultBranch(projectId: string): Promise<Branch> {
  const client = neonClient();
  const branches = await listAll(
    (cursor) =>
      client.read(`list branches of project ${projectId}`, (p) =>
        client.api.listProjectBranches({ projectId, limit: 100, ...(cursor ? { cursor } : {}) }, p),
      ),
    (r) => r.branches,
    (r) => r.pagination?.next,
  );
  const main = branches.find((b) => b.default);
  if (!main) throw new Error(`Neon project ${projectId} has no default branch`);
  return main;
}

const defaultBranchId = async (projectId: string) => (await defaultBranch(projectId)).id;

function projectOutputs(inputs: ProjectInputs, project: Project, branchId: string): ProjectOutputs {
  return { ...inputs, project_id: project.id, default_branch_id: branchId, proxy_host: project.proxy_host };
}

async function updateProject(id: string, news: ProjectInputs): Promise<Project> {
  const client = neonClient();
  const res = await unlessGone(`update project ${news.name}`, () =>
    client.write(id, `update project ${news.name}`, (p) =>
      client.api.updateProject(
        id,
        {
          project: {
            name: news.name,
            history_retention_seconds: news.history_retention_seconds,
            default_endpoint_settings: compute(news.default_endpoint_settings),
          },
        },
        p,
      ),
    ),
  );
  return res!.project;
}

export const projectProvider: Provider = {
  configure,
  async check(_olds: ProjectInputs, news: ProjectInputs) {
    const failures = [
      ...required(news as never, ["name", "region_id", "pg_version"]),
      ...computeFailures(news.default_endpoint_settings ?? {}, "default_endpoint_settings."),
    ];
    const h = Number(news.history_retention_seconds);
    if (!isUnknown(news.history_retention_seconds) && !(h >= 0 && h <= MAX_HISTORY_RETENTION_SECONDS)) {
      failures.push({
        property: "history_retention_seconds",
        reason: `${h} (allowed: 0..${MAX_HISTORY_RETENTION_SECONDS}, 30 days)`,
      });
    }
    if (news.org_id !== undefined && !isUnknown(news.org_id) && !/^[a-z0-9-]{1,60}$/.test(news.org_id)) {
      failures.push({ property: "org_id", reason: `'${news.org_id}' (allowed: a Neon org id such as org-...)` });
    }
    return { inputs: news, failures };
  },
  async diff(_id: string, olds: ProjectOutputs, news: ProjectInputs) {
    return diffOf(
      olds as never,
      news as never,
      ["region_id", "pg_version"],
      ["name", "history_retention_seconds", "default_endpoint_settings"],
    );
  },
  async create(inputs: ProjectInputs) {
    const client = neonClient();
    const result = await client.createOrAdopt({
      what: `create project ${inputs.name}`,
      find: async () => {
        // Only a project with this region and Postgres version is ours to adopt: another one of the same name is
        // the one a replacement retires (the engine deletes it once this one exists), or someone else's.
        const ours = (await projectsNamed(inputs.name, inputs.org_id)).filter(
          (p) => p.region_id === inputs.region_id && p.pg_version === inputs.pg_version,
        );
        if (ours.length > 1) {
          throw new Error(
            `Neon has ${ours.length} projects named ${inputs.name} in ${inputs.region_id} on Postgres ${inputs.pg_version} (${ours.map((p) => p.id).join(", ")}); allowed: one. Delete the extra ones or import the right one.`,
          );
        }
        if (!ours[0]) return undefined;
        const got = await client.read(`read project ${ours[0].id}`, (p) => client.api.getProject(ours[0]!.id, p));
        return got.project;
      },
      create: (p) =>
        client.api.createProject(
          {
            project: {
              name: inputs.name,
              region_id: inputs.region_id,
              pg_version: inputs.pg_version as never,
              history_retention_seconds: inputs.history_retention_seconds,
              default_endpoint_settings: compute(inputs.default_endpoint_settings),
              branch: inputs.branch,
              ...(inputs.org_id ? { org_id: inputs.org_id } : {}),
            },
          },
          p,
        ),
      projectOf: (created, found) => (created?.project.id ?? found?.id)!,
      remove: async (res) => {
        await client.write(
          res.project.id,
          `roll back project ${inputs.name}`,
          (p) => client.api.deleteProject(res.project.id, p),
          { gone: true },
        );
      },
    });
    if (result.adopted) {
      // Found by name with the same region and version: bring its settings to what the stack declares.
      const project = await updateProject(result.value.id, inputs);
      return { id: project.id, outs: projectOutputs(inputs, project, await defaultBranchId(project.id)) };
    }
    const { project, branch } = result.response;
    return { id: project.id, outs: projectOutputs(inputs, project, branch.id) };
  },
  async read(id: string, props?: ProjectOutputs) {
    const client = neonClient();
    const got = await client.readOptional(`read project ${id}`, (p) => client.api.getProject(id, p));
    if (!got) return {};
    const p = got.project;
    const d = p.default_endpoint_settings ?? {};
    const outs: ProjectOutputs = {
      ...(props as ProjectOutputs),
      name: p.name,
      region_id: p.region_id,
      pg_version: p.pg_version,
      history_retention_seconds: p.history_retention_seconds,
      default_endpoint_settings: {
        autoscaling_limit_min_cu: d.autoscaling_limit_min_cu ?? 0.25,
        autoscaling_limit_max_cu: d.autoscaling_limit_max_cu ?? 0.25,
        suspend_timeout_seconds: d.suspend_timeout_seconds ?? 0,
      },
      project_id: p.id,
      default_branch_id: await defaultBranchId(id),
      proxy_host: p.proxy_host,
    };
    return { id, props: outs };
  },
  async update(id: string, olds: ProjectOutputs, news: ProjectInputs) {
    const project = await updateProject(id, news);
    return { outs: projectOutputs(news, project, olds.default_branch_id) };
  },
  async delete(id: string) {
    const client = neonClient();
    await client.write(id, `delete project ${id}`, (p) => client.api.deleteProject(id, p), { gone: true });
  },
};

// ---- Branch ---------------------------------------------------------------------------------------------------

/** The branch named exactly `name` (Neon's `search` matches parts of names too), over every page. */
async function findBranch(projectId: string, name: string): Promise<Branch | undefined> {
  const client = neonClient();
  const branches = await listAll(
    (cursor) =>
      client.read(`list branches named ${name}`, (p) =>
        client.api.listProjectBranches({ projectId, search: name, limit: 100, ...(cursor ? { cursor } : {}) }, p),
      ),
    (r) => r.branches,
    (r) => r.pagination?.next,
  );
  return branches.find((b) => b.name === name);
}

function branchOutputs(inputs: BranchInputs, branch: Branch): BranchOutputs {
  const outs: BranchOutputs = { ...inputs, branch_id: branch.id };
  if (branch.parent_id) outs.parent_id = branch.parent_id;
  return outs;
}

async function updateBranch(projectId: string, branchId: string, news: BranchInputs): Promise<Branch> {
  const client = neonClient();
  const res = await unlessGone(`update branch ${news.name}`, () =>
    client.write(projectId, `update branch ${news.name}`, (p) =>
      client.api.updateProjectBranch(
        projectId,
        branchId,
        // Neon refuses expires_at on a default branch (BranchUpdateRequest): its name is all there is to change.
        { branch: news.default ? { name: news.name } : { name: news.name, expires_at: news.expires_at ?? null } },
        p,
      ),
    ),
  );
  return res!.branch;
}

export const branchProvider: Provider = {
  configure,
  async check(_olds: BranchInputs, news: BranchInputs) {
    const failures = required(news as never, ["project_id", "name"]);
    if (news.default === true) {
      for (const k of ["parent_id", "expires_at"] as const) {
        if (news[k] !== undefined) {
          failures.push({
            property: k,
            reason: "is set on the project's default branch (allowed: unset; Neon refuses it)",
          });
        }
      }
    }
    if (news.expires_at !== undefined && !isUnknown(news.expires_at)) {
      const at = Date.parse(news.expires_at);
      const latest = Date.now() + MAX_BRANCH_TTL_SECONDS * 1000;
      if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/.test(news.expires_at) || Number.isNaN(at)) {
        failures.push({ property: "expires_at", reason: `'${news.expires_at}' (allowed: RFC 3339 UTC to the second)` });
      } else if (at <= Date.now() || at > latest + 60_000) {
        failures.push({
          property: "expires_at",
          reason: `'${news.expires_at}' (allowed: in the future, at most 30 days away)`,
        });
      }
    }
    return { inputs: news, failures };
  },
  async diff(_id: string, olds: BranchOutputs, news: BranchInputs) {
    // Branch names are unique in a project (409 "branch with the provided name already exists",
    // neondatabase/create-branch-action#34): the old branch must go before the new one is made.
    // A default branch is never created (its replacement adopts the new project's), so the order does not matter.
    return diffOf(
      olds as never,
      news as never,
      ["project_id", "parent_id", "default"],
      ["name", "expires_at"],
      !news.default,
    );
  },
  async create(inputs: BranchInputs) {
    if (inputs.default) {
      // Made with the project, whose `branch.name` names it: adopt it, and give it the declared name if it has another.
      const main = await defaultBranch(inputs.project_id);
      const branch = main.name === inputs.name ? main : await updateBranch(inputs.project_id, main.id, inputs);
      return { id: branch.id, outs: branchOutputs(inputs, branch) };
    }
    const client = neonClient();
    const result = await client.createOrAdopt({
      what: `create branch ${inputs.name}`,
      projectId: inputs.project_id,
      find: async () => {
        const found = await findBranch(inputs.project_id, inputs.name);
        // A branch of this name forked from another parent is not this one (nor Neon's default branch).
        if (found && (found.default || (inputs.parent_id && found.parent_id !== inputs.parent_id))) {
          throw new Error(
            `Neon branch ${inputs.name} (${found.id}) exists ${found.default ? "as the project's default branch" : `with parent ${found.parent_id}`}; allowed: a branch of ${inputs.parent_id ?? "the default branch"}. Delete it or rename this stack's branch.`,
          );
        }
        return found;
      },
      // No endpoints here: the Endpoint resources own the branch's computes.
      create: (p) =>
        client.api.createProjectBranch(
          inputs.project_id,
          {
            branch: {
              name: inputs.name,
              ...(inputs.parent_id ? { parent_id: inputs.parent_id } : {}),
              ...(inputs.expires_at ? { expires_at: inputs.expires_at } : {}),
            },
          },
          p,
        ),
      remove: async (res) => {
        await client.write(
          inputs.project_id,
          `roll back branch ${inputs.name}`,
          (p) => client.api.deleteProjectBranch({ projectId: inputs.project_id, branchId: res.branch.id }, p),
          { gone: true },
        );
      },
    });
    if (result.adopted) {
      const branch = same(result.value.expires_at, inputs.expires_at)
        ? result.value
        : await updateBranch(inputs.project_id, result.value.id, inputs);
      return { id: branch.id, outs: branchOutputs(inputs, branch) };
    }
    return { id: result.response.branch.id, outs: branchOutputs(inputs, result.response.branch) };
  },
  async read(id: string, props?: BranchOutputs) {
    const client = neonClient();
    const projectId = props!.project_id;
    const got = await client.readOptional(`read branch ${id}`, (p) => client.api.getProjectBranch(projectId, id, p));
    if (!got) return {};
    const b = got.branch;
    const outs: BranchOutputs = { ...props!, name: b.name, branch_id: b.id };
    if (b.parent_id) outs.parent_id = b.parent_id;
    if (b.expires_at) outs.expires_at = b.expires_at;
    else delete outs.expires_at;
    return { id, props: outs };
  },
  async update(id: string, olds: BranchOutputs, news: BranchInputs) {
    const branch = await updateBranch(olds.project_id, id, news);
    return { outs: branchOutputs(news, branch) };
  },
  async delete(id: string, props: BranchOutputs) {
    // "You cannot delete a project's root or default branch" (deleteProjectBranch in Neon's OpenAPI document): the
    // project's delete, which the engine runs after this one, takes it with it.
    if (props.default) return;
    const client = neonClient();
    await client.write(
      props.project_id,
      `delete branch ${props.name}`,
      (p) => client.api.deleteProjectBranch({ projectId: props.project_id, branchId: id }, p),
      { gone: true },
    );
  },
};

// ---- Endpoint -------------------------------------------------------------------------------------------------

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

// ---- Role -----------------------------------------------------------------------------------------------------

const roleId = (r: RoleInputs) => `${r.project_id}/${r.branch_id}/${r.name}`;

/** The role by name (undefined once gone): create looks it up before creating, read refreshes with it. */
const getRole = (client: NeonClient, { project_id, branch_id, name }: RoleInputs) =>
  client.readOptional(`read role ${name}`, (p) => client.api.getProjectBranchRole(project_id, branch_id, name, p));

/** `roll back` a half-created role, or `delete` one (already deleted is fine: a retried delete may find it gone). */
const deleteRole = (client: NeonClient, verb: string, r: RoleInputs) =>
  client.write(
    r.project_id,
    `${verb} role ${r.name}`,
    (p) => client.api.deleteProjectBranchRole(r.project_id, r.branch_id, r.name, p),
    { gone: true },
  );

export const roleProvider: Provider = {
  configure,
  async check(_olds: RoleInputs, news: RoleInputs) {
    const failures = required(news as never, ["project_id", "branch_id", "name"]);
    if (typeof news.name === "string" && !isUnknown(news.name) && Buffer.byteLength(news.name) > 63) {
      failures.push({ property: "name", reason: `'${news.name}' is longer than 63 bytes (allowed: <= 63)` });
    }
    return { inputs: news, failures };
  },
  async diff(_id: string, olds: RoleOutputs, news: RoleInputs) {
    // Neon cannot rename a role: any change is a new role.
    return diffOf(olds as never, news as never, ["project_id", "branch_id", "name"], []);
  },
  async create(inputs: RoleInputs) {
    const client = neonClient();
    const { project_id: projectId, branch_id: branchId, name } = inputs;
    const result = await client.createOrAdopt({
      what: `create role ${name}`,
      projectId,
      find: async () => (await getRole(client, inputs))?.role,
      create: (p) => client.api.createProjectBranchRole(projectId, branchId, { role: { name } }, p),
      remove: async () => {
        await deleteRole(client, "roll back", inputs);
      },
    });
    let password: string | undefined;
    if (result.adopted) {
      // Its password was never ours to see (a lost answer, or a role Neon or a parent branch made): issue a new one.
      const reset = await client.write(projectId, `reset password of role ${name}`, (p) =>
        client.api.resetProjectBranchRolePassword(projectId, branchId, name, p),
      );
      password = reset!.role.password;
    } else {
      password = result.response.role.password;
    }
    if (!password) throw new Error(`Neon returned no password for role ${name}`);
    return { id: roleId(inputs), outs: { ...inputs, password } satisfies RoleOutputs };
  },
  async read(id: string, props?: RoleOutputs) {
    if (!(await getRole(neonClient(), props!))) return {};
    return { id, props: { ...props! } };
  },
  async delete(_id: string, props: RoleOutputs) {
    await deleteRole(neonClient(), "delete", props);
  },
};

// ---- Database -------------------------------------------------------------------------------------------------

/** The database by name (undefined once gone): create looks it up before creating, read refreshes with it. */
const getDatabase = (client: NeonClient, { project_id, branch_id, name }: DatabaseInputs) =>
  client.readOptional(`read database ${name}`, (p) =>
    client.api.getProjectBranchDatabase(project_id, branch_id, name, p),
  );

/** `roll back` a half-created database, or `delete` one (already deleted is fine). */
const deleteDatabase = (client: NeonClient, verb: string, d: DatabaseInputs) =>
  client.write(
    d.project_id,
    `${verb} database ${d.name}`,
    (p) => client.api.deleteProjectBranchDatabase(d.project_id, d.branch_id, d.name, p),
    { gone: true },
  );

async function updateDatabase(current: string, news: DatabaseInputs): Promise<Database> {
  const client = neonClient();
  const res = await unlessGone(`update database ${current}`, () =>
    client.write(news.project_id, `update database ${current}`, (p) =>
      client.api.updateProjectBranchDatabase(
        news.project_id,
        news.branch_id,
        current,
        { database: { name: news.name, owner_name: news.owner_name } },
        p,
      ),
    ),
  );
  return res!.database;
}

export const databaseProvider: Provider = {
  configure,
  async check(_olds: DatabaseInputs, news: DatabaseInputs) {
    return { inputs: news, failures: required(news as never, ["project_id", "branch_id", "name", "owner_name"]) };
  },
  async diff(_id: string, olds: DatabaseOutputs, news: DatabaseInputs) {
    // A rename or a new owner keeps the data (PATCH); only moving to another branch or project replaces.
    return diffOf(olds as never, news as never, ["project_id", "branch_id"], ["name", "owner_name"]);
  },
  async create(inputs: DatabaseInputs) {
    const client = neonClient();
    const { project_id: projectId, branch_id: branchId, name } = inputs;
    const result = await client.createOrAdopt({
      what: `create database ${name}`,
      projectId,
      find: async () => (await getDatabase(client, inputs))?.database,
      create: (p) =>
        client.api.createProjectBranchDatabase(
          projectId,
          branchId,
          { database: { name, owner_name: inputs.owner_name } },
          p,
        ),
      remove: async () => {
        await deleteDatabase(client, "roll back", inputs);
      },
    });
    let db: Database;
    if (result.adopted) {
      // A database a parent branch or the project's creation made: hand it to this stack's owner role.
      db = result.value.owner_name === inputs.owner_name ? result.value : await updateDatabase(name, inputs);
    } else {
      db = result.response.database;
    }
    return { id: String(db.id), outs: { ...inputs, database_id: db.id } satisfies DatabaseOutputs };
  },
  async read(id: string, props?: DatabaseOutputs) {
    const got = await getDatabase(neonClient(), props!);
    if (!got) return {};
    return { id, props: { ...props!, owner_name: got.database.owner_name, database_id: got.database.id } };
  },
  async update(_id: string, olds: DatabaseOutputs, news: DatabaseInputs) {
    const db = await updateDatabase(olds.name, news);
    return { outs: { ...news, database_id: db.id } satisfies DatabaseOutputs };
  },
  async delete(_id: string, props: DatabaseOutputs) {
    await deleteDatabase(neonClient(), "delete", props);
  },
};
