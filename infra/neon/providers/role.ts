/** The Neon Role provider: a branch's Postgres role and its password. */
import { diffOf, isUnknown } from "../../dynamic/diff";
import { neonClient, type NeonClient } from "../client";
import { configure, required, type Provider, type RoleInputs, type RoleOutputs } from "./shared";

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
