/**
 * Offline fakes of what Neon returns, shaped like the real values (`ep-...` ids, `<id>.<region>.aws.neon.tech`
 * hosts), so the component derives pooled hosts and URIs offline exactly as it does for real. Passwords come back
 * secret, as `additionalSecretOutputs` makes them under the real engine (the mock monitor ignores that option).
 */
import * as pulumi from "@pulumi/pulumi";
import { fakeId, registerMockId, registerMockOutputs, registerStackReferenceOutputs } from "../offline/mocks";
import { LOGIN_ROLE_TYPE } from "./login-role";
import { neonType } from "./resources";

type Inputs = Record<string, unknown>;

/** A stack's fake Neon project id: previews of dev see the id dev's own plan shows. */
export const fakeProjectId = (stack: string) => `mauntic-${fakeId(`neon-project:${stack}`, 12)}`;
export const fakeBranchId = (stack: string, name: string) => `br-${fakeId(`neon-branch:${stack}:${name}`, 12)}`;

/** `aws-us-east-2` -> `us-east-2.aws.neon.tech`. */
function regionHost(region: unknown): string {
  const r = typeof region === "string" ? region : "aws-us-east-2";
  const [cloud, ...rest] = r.split("-");
  return `${rest.join("-")}.${cloud}.neon.tech`;
}

registerMockOutputs(neonType("Project"), (_name, inputs, stack) => ({
  project_id: fakeProjectId(stack),
  default_branch_id: fakeBranchId(stack, "main"),
  proxy_host: regionHost(inputs.region_id),
}));

// Ids as the providers return them: the project's is its project_id, a branch's its branch_id (children take ids).
registerMockId(neonType("Project"), (_name, _inputs, stack) => fakeProjectId(stack));
registerMockId(neonType("Branch"), (_name, inputs, stack) => fakeBranchId(stack, String(inputs.name)));

registerMockOutputs(neonType("Branch"), (_name, inputs: Inputs, stack) => ({
  branch_id: fakeBranchId(stack, String(inputs.name)),
}));

registerMockOutputs(neonType("Endpoint"), (name, inputs: Inputs, stack) => {
  const id = `ep-${fakeId(`neon-endpoint:${stack}:${name}`, 12)}`;
  return { endpoint_id: id, host: `${id}.${regionHost(inputs.region_id)}` };
});

registerMockOutputs(neonType("Role"), (name, _inputs, stack) => ({
  password: pulumi.secret(`npg_${fakeId(`neon-role:${stack}:${name}`, 16)}`),
}));

registerMockOutputs(neonType("Database"), (name, _inputs, stack) => ({
  database_id: parseInt(fakeId(`neon-database:${stack}:${name}`, 6), 16),
}));

// Preview stacks read dev's project through a StackReference: answer with what dev's plan exports.
registerStackReferenceOutputs("mauntic/mauntic-infra/dev", {
  neonProjectId: fakeProjectId("dev"),
  neonBranchId: fakeBranchId("dev", "main"),
});

// Worker login roles (SQL, ./login-role.ts): the provider generates the password; secret as under the engine.
registerMockOutputs(LOGIN_ROLE_TYPE, (name, _inputs, stack) => ({
  password: pulumi.secret(`pw_${fakeId(`login-role:${stack}:${name}`, 28)}`),
}));
