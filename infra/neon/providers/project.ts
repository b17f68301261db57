/** The Neon Project provider: one project per environment, found by name so an interrupted create is adopted. */
import type { Branch, Project, ProjectListItem } from "@neondatabase/api-client";
import { diffOf, isUnknown } from "../../dynamic/diff";
import { neonClient, unavailableProjectsError } from "../client";
import {
  MAX_HISTORY_RETENTION_SECONDS,
  compute,
  computeFailures,
  configure,
  listAll,
  required,
  unlessGone,
  type Provider,
  type ProjectInputs,
  type ProjectOutputs,
} from "./shared";

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
export async function defaultBranch(projectId: string): Promise<Branch> {
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
