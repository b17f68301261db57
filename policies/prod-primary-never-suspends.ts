import { environmentOf, resourcePolicy, T, type PolicyMeta } from "./lib";

export const meta: PolicyMeta = {
  name: "prod-primary-never-suspends",
  description: "prod's read_write Neon endpoint has suspend_timeout_seconds -1 (never scales to zero).",
  why: "A suspended primary cold-starts on the next query (hundreds of ms) and drops the pooler's connections: the first requests after a quiet spell time out.",
  enforcement: { prod: "mandatory", dev: "disabled", preview: "disabled" },
  remediation: "Set `neon.primary.suspendTimeoutSeconds: -1` in Pulumi.prod.yaml.",
};

export const prodPrimaryNeverSuspends = resourcePolicy(meta, ({ type, props, urn, notApplicable }, report) => {
  if (type !== T.neonEndpoint || props.type !== "read_write")
    return notApplicable(`applies to read_write ${T.neonEndpoint}`);
  if (environmentOf(urn) !== "prod") return notApplicable("prod only");
  // Neon: -1 never suspends, 0 is the default (5 minutes) (api-docs.neon.tech, EndpointCreateRequest).
  if (props.suspend_timeout_seconds !== -1) {
    report(`suspend_timeout_seconds is ${String(props.suspend_timeout_seconds)}; prod's primary must be -1`);
  }
});
