import { describe, expect, it } from "vitest";
import { cloudName, NameError, parseStackName, resourceName, type Service } from "../infra/naming";

/**
 * Each vendor's own name rules, written here from its documentation (not read from infra/naming.ts), so a limit set
 * wrong in the naming function fails this test.
 */
const VENDOR_RULES: { what: string; service: Service; max: number; charset: RegExp }[] = [
  // Neon API (public-v2-for-users.gen.yaml in @neondatabase/api-client): ProjectCreateRequest project.name and
  // BranchCreateRequest branch.name are strings of 1..256 characters.
  { what: "Neon project / branch name", service: "neon", max: 256, charset: /^.{1,256}$/ },
  // Neon API RoleCreateRequest role.name: "Cannot exceed 63 bytes in length"; PostgreSQL docs (SQL Syntax, 4.1.1
  // Identifiers): an unquoted identifier starts with a letter or underscore, then letters, underscores, digits or $,
  // folded to lower case; NAMEDATALEN - 1 = 63 bytes.
  { what: "Neon role name", service: "pgRole", max: 63, charset: /^[a-z_][a-z0-9_$]*$/ },
  // Neon databases are PostgreSQL databases: the same identifier rule and 63-byte limit.
  { what: "Neon database name", service: "pgDatabase", max: 63, charset: /^[a-z_][a-z0-9_$]*$/ },
  // Cloudflare R2 docs (r2/buckets/create-buckets): 3-63 characters, lowercase letters, digits and hyphens, not
  // beginning or ending with a hyphen (the API's r2-create-bucket schema: pattern ^[a-z0-9][a-z0-9-]*[a-z0-9]).
  { what: "Cloudflare R2 bucket name", service: "r2", max: 63, charset: /^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/ },
  // Cloudflare API schema workers-kv_namespace_title: a string of at most 512 characters.
  { what: "Cloudflare KV namespace title", service: "kv", max: 512, charset: /^.{1,512}$/ },
  // Cloudflare API reference, Hyperdrive configs: name is a string of at most 2048 characters.
  { what: "Cloudflare Hyperdrive config name", service: "hyperdrive", max: 2048, charset: /^.{1,2048}$/ },
  // flyctl: "app name must consist of only lowercase letters, numbers, and dashes"; the name is the DNS label of
  // <app>.fly.dev, so at most 63 characters (RFC 1035; superfly/flyctl#4283) and no leading or trailing dash.
  { what: "Fly app name", service: "fly", max: 63, charset: /^[a-z0-9][a-z0-9-]{0,61}[a-z0-9]$/ },
];

describe("naming", () => {
  it("parses the three kinds of stack", () => {
    expect(parseStackName("dev")).toEqual({ stack: "dev", kind: "dev" });
    expect(parseStackName("prod")).toEqual({ stack: "prod", kind: "prod" });
    expect(parseStackName("pr-42")).toEqual({ stack: "pr-42", kind: "preview", pr: 42 });
    for (const bad of ["", "staging", "pr-", "pr-0", "pr-042", "pr-1234567", "Dev", "prod "]) {
      expect(() => parseStackName(bad), JSON.stringify(bad)).toThrow(/allowed: dev, prod, or pr-<N>/);
    }
  });

  it("builds mauntic-<stack>-<thing> with each service's separator", () => {
    expect(cloudName("dev", "hyperdrive", "crm", "db")).toBe("mauntic-dev-crm-db");
    expect(cloudName("pr-42", "r2", "assets")).toBe("mauntic-pr-42-assets");
    expect(cloudName("prod", "pgRole", "delivery")).toBe("mauntic_prod_delivery");
    expect(cloudName("pr-7", "pgRole", "delivery-sender")).toBe("mauntic_pr_7_delivery_sender");
    expect(resourceName("dev", "crm", "db")).toBe("mauntic-dev-crm-db");
  });

  it.each(VENDOR_RULES.map((r) => [r.what, r] as const))(
    "%s: every name it makes fits the vendor's limit and charset; longer ones are refused",
    (_, rule) => {
      // the longest stack and the platform's longest worker name, with the separators a real name has
      const real = cloudName("pr-999999", rule.service, "delivery-sender", "replica");
      expect(real.length).toBeLessThanOrEqual(rule.max);
      expect(real).toMatch(rule.charset);
      // grow the name until it is refused: no name past the vendor's limit ever comes out
      let longest = "";
      for (let n = 1; n <= rule.max + 1; n += Math.max(1, Math.floor(rule.max / 64))) {
        try {
          longest = cloudName("pr-999999", rule.service, "x".repeat(n));
        } catch (e) {
          expect(e).toBeInstanceOf(NameError);
          expect((e as Error).message).toMatch(/allowed: at most \d+/);
          break;
        }
      }
      expect(longest.length).toBeLessThanOrEqual(rule.max);
      expect(() => cloudName("pr-999999", rule.service, "x".repeat(rule.max + 1))).toThrow(NameError);
      // characters the vendor refuses never reach it: they are folded or the name is refused
      for (const hostile of ["Crm_Import", "crm.import", "crm import", "CRM--IMPORT", "crm$", "_crm"]) {
        try {
          expect(cloudName("dev", rule.service, hostile)).toMatch(rule.charset);
        } catch (e) {
          expect(e).toBeInstanceOf(NameError);
        }
      }
    },
  );

  it("refuses an unknown stack", () => {
    expect(() => cloudName("staging", "kv", "cache")).toThrow(/stack name 'staging' is not allowed/);
  });
});
