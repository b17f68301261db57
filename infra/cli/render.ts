import type { Plan, PlanResource, Violation } from "../offline/plan";

/** One line per finding: level, policy, resource (type and name from the URN), message. */
export function renderViolation(v: Violation): string {
  const [type, name] = v.urn?.split("::").slice(-2) ?? [];
  const where = v.urn ? ` ${type!.split("$").pop()} ${name}:` : "";
  return `${v.enforcement === "mandatory" ? "✗ mandatory" : "! advisory"} [${v.policy}]${where} ${v.message}`;
}

/** A readable resource tree: components with their children, custom resources with their key inputs. */
export function renderTree(plan: Plan): string {
  const children = new Map<string | undefined, PlanResource[]>();
  for (const r of plan.resources) {
    const list = children.get(r.parent) ?? [];
    list.push(r);
    children.set(r.parent, list);
  }
  const lines: string[] = [];
  const walk = (parent: string | undefined, indent: string) => {
    for (const r of children.get(parent) ?? []) {
      const flags = [r.protect ? "protected" : "", r.retainOnDelete ? "retained on delete" : ""].filter(Boolean);
      lines.push(
        `${indent}${r.custom ? "+" : "▸"} ${r.type}  ${r.name}${flags.length ? `  (${flags.join(", ")})` : ""}`,
      );
      walk(r.urn, `${indent}    `);
    }
  };
  walk(undefined, "");
  const custom = plan.resources.filter((r) => r.custom).length;
  lines.push("");
  lines.push(
    `stack ${plan.stack}: ${custom} resources to create, ${plan.resources.length - custom} components, dependency depth ${plan.depth}`,
  );
  const outs = Object.entries(plan.outputs);
  if (outs.length) {
    lines.push("outputs:");
    // Structured outputs are long (bindings, catalog): the tree shows their start, `--json` shows them whole.
    const brief = (v: unknown) => {
      const text = typeof v === "string" ? v : JSON.stringify(v);
      return text.length > 100 ? `${text.slice(0, 99)}… (--json for all)` : text;
    };
    for (const [k, v] of outs) lines.push(`  ${k}: ${brief(v)}`);
  }
  if (plan.violations.length) lines.push("", `policy violations (${plan.violations.length}):`);
  for (const v of plan.violations) lines.push(renderViolation(v));
  return `${lines.join("\n")}\n`;
}
