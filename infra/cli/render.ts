import type { Plan, PlanResource } from "../offline/plan";

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
  for (const v of plan.violations) lines.push(`${v.severity === "mandatory" ? "✗" : "!"} [${v.policy}] ${v.message}`);
  return `${lines.join("\n")}\n`;
}
