/** The Neon Database provider: a branch's database and its owner. */
import type { Database } from "@neondatabase/api-client";
import { diffOf } from "../../dynamic/diff";
import { neonClient, type NeonClient } from "../client";
import { configure, required, unlessGone, type DatabaseInputs, type DatabaseOutputs, type Provider } from "./shared";

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
