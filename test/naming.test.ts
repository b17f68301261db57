import { describe, expect, it } from "vitest";
import { cloudName, NameError, parseStackName, resourceName, SERVICES } from "../infra/naming";

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

  it("every generated name fits its service's rules", () => {
    for (const service of Object.keys(SERVICES) as (keyof typeof SERVICES)[]) {
      const out = cloudName("pr-999999", service, "analytics", "replica");
      expect(out.length).toBeLessThanOrEqual(SERVICES[service].max);
      expect(out).toMatch(SERVICES[service].charset);
    }
  });

  it("refuses a name over the service's limit instead of truncating it", () => {
    expect(() => cloudName("pr-123456", "r2", "a".repeat(60))).toThrow(NameError);
    expect(() => cloudName("pr-123456", "r2", "a".repeat(60))).toThrow(/allowed: at most 63/);
  });

  it("refuses an unknown stack", () => {
    expect(() => cloudName("staging", "kv", "cache")).toThrow(/stack name 'staging' is not allowed/);
  });
});
