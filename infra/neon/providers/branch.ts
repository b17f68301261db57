/** The Neon Branch provider: preview branches with an expiry, found by name so an interrupted create is adopted. */
import type { Branch } from "@neondatabase/api-client";
import { diffOf, isUnknown, same } from "../../dynamic/diff";
import { neonClient } from "../client";
import { defaultBranch } from "./project";
import {
  MAX_BRANCH_TTL_SECONDS,
  configure,
  listAll,
  required,
  unlessGone,
  type BranchInputs,
  type BranchOutputs,
  type Provider,
} from "./shared";

/**
 * A redeploy moves a preview branch's expiry to now + TTL; one that moves it later by less than this keeps the
 * expiry Neon holds, so a second `pulumi up` of the same change changes nothing (the TTL is counted in hours).
 */
export const EXPIRY_SLACK_SECONDS = 3600;

/** The inputs to diff: an expiry moved later by less than the slack is the one already held. */
function withinSlack(olds: BranchOutputs, news: BranchInputs): BranchInputs {
  if (!olds.expires_at || !news.expires_at || isUnknown(news.expires_at)) return news;
  const moved = Date.parse(news.expires_at) - Date.parse(olds.expires_at);
  return moved >= 0 && moved < EXPIRY_SLACK_SECONDS * 1000 ? { ...news, expires_at: olds.expires_at } : news;
}

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
      withinSlack(olds, news) as never,
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
