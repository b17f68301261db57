/**
 * The offline plan held to the real engine: what `plan --json --preview` says a stack declares against what
 * `pulumi preview --json` of the same stack shows, resource by resource. No exception list: every difference is
 * reported, each as one line.
 */
import type { Plan } from "../../infra/offline/plan";
import { UNKNOWN as DYNAMIC_UNKNOWN } from "../../infra/dynamic/diff";

/** `pulumi preview --json` (pkg/display/json.go): one step per resource, its new state as the engine would write it. */
export interface EnginePreview {
  steps: {
    op: string;
    urn: string;
    newState?: {
      type: string;
      custom?: boolean;
      parent?: string;
      dependencies?: string[];
      inputs?: Record<string, unknown>;
    };
  }[];
  changeSummary: Record<string, number>;
}

/** Paths of values that are secret, or unknown, in a value: the engine prints "[secret]" and its unknown sentinel. */
function paths(v: unknown, what: "secret" | "unknown", at: string[] = []): string[] {
  if (v === "[secret]") return what === "secret" ? [at.join(".")] : [];
  if (v === "[unknown]" || v === DYNAMIC_UNKNOWN) return what === "unknown" ? [at.join(".")] : [];
  if (Array.isArray(v)) return v.flatMap((x, i) => paths(x, what, [...at, String(i)]));
  if (v && typeof v === "object") {
    // A dynamic resource's serialized provider is code, not a value the program declared.
    return Object.entries(v).flatMap(([k, x]) => (k === "__provider" ? [] : paths(x, what, [...at, k])));
  }
  return [];
}

const sorted = (xs: Iterable<string>) => [...new Set(xs)].sort().join(", ");

/** Every way the plan and the preview disagree: resources, types, parents, dependencies, secret and unknown values. */
export function planVsPreview(plan: Plan, preview: EnginePreview): string[] {
  const out: string[] = [];
  const engine = new Map(preview.steps.map((s) => [s.urn, s.newState]));
  const offline = new Map(plan.resources.map((r) => [r.urn, r]));
  for (const urn of engine.keys()) if (!offline.has(urn)) out.push(`${urn}: in the engine's preview only`);
  for (const r of plan.resources) {
    const e = engine.get(r.urn);
    if (!e) {
      out.push(`${r.urn}: in the offline plan only`);
      continue;
    }
    const differ = (what: string, a: string, b: string) => {
      if (a !== b) out.push(`${r.urn}: ${what}: plan [${a}], engine [${b}]`);
    };
    differ("type", r.type, e.type);
    differ("custom", String(r.custom), String(e.custom ?? false));
    differ("parent", r.parent ?? "", e.parent ?? "");
    differ("dependencies", sorted(r.dependsOn), sorted(e.dependencies ?? []));
    differ("secret values", sorted(paths(r.inputs, "secret")), sorted(paths(e.inputs ?? {}, "secret")));
    differ("unknown values", sorted(paths(r.inputs, "unknown")), sorted(paths(e.inputs ?? {}, "unknown")));
  }
  return out;
}
