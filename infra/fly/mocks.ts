/**
 * Offline fakes of what the Machines API returns, shaped like the real values (`vol_...` volume ids, 14-hex machine
 * ids, fdaa: 6PN addresses), so components derive URLs and configs offline exactly as they do for real. Secret
 * values come back secret, as `additionalSecretOutputs` makes them under the real engine.
 */
import * as pulumi from "@pulumi/pulumi";
import { fakeId, registerMockOutputs } from "../offline/mocks";
import { flyType } from "./resources";

type Inputs = Record<string, unknown>;

registerMockOutputs(flyType("App"), (name, _inputs, stack) => ({ app_id: fakeId(`fly-app:${stack}:${name}`, 12) }));

registerMockOutputs(flyType("Volume"), (name, _inputs, stack) => ({
  volume_id: `vol_${fakeId(`fly-volume:${stack}:${name}`, 16)}`,
}));

registerMockOutputs(flyType("Machine"), (name, _inputs, stack) => {
  const id = fakeId(`fly-machine:${stack}:${name}`, 14);
  return { machine_id: id, version: fakeId(`fly-version:${id}`, 26), private_ip: `fdaa:0:1:a7b:${id.slice(0, 4)}::2` };
});

registerMockOutputs(flyType("Secrets"), (name, inputs: Inputs, stack) => {
  const generated = Object.fromEntries(
    ((inputs.generate as string[] | undefined) ?? []).map((k) => [k, fakeId(`fly-secret:${stack}:${name}:${k}`, 40)]),
  );
  return { values: pulumi.secret({ ...(inputs.values as Record<string, string>), ...generated }), version: 1 };
});
