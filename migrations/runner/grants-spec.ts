/**
 * The grants spec: which role reads and writes which platform schema. Built from a stack's worker catalogue (the
 * CLI's --stack, the post-deploy step) or given as JSON (--grants / MAUNTIC_GRANTS). No database code here: the
 * Pulumi program imports it.
 */
import { z } from "zod";
import type { StackConfig } from "../../infra/config/schema";
import { cloudName } from "../../infra/naming";
import { InputError } from "./errors";

const ident = z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, "a lowercase SQL identifier");

export const grantsSpecSchema = z
  .strictObject({
    /** The platform's schemas: the only ones whose privileges the runner manages. */
    schemas: z.array(ident).min(1),
    /** Role name -> schemas it reads / writes. */
    roles: z.record(ident, z.strictObject({ reads: z.array(ident).default([]), writes: z.array(ident).default([]) })),
  })
  .superRefine((spec, ctx) => {
    for (const [role, g] of Object.entries(spec.roles)) {
      for (const s of [...g.reads, ...g.writes]) {
        if (!spec.schemas.includes(s)) {
          ctx.addIssue({ code: "custom", path: ["roles", role], message: `unknown schema '${s}'` });
        }
      }
    }
  });

export type GrantsSpec = z.output<typeof grantsSpecSchema>;

/** The grants of a stack: one role per catalogue worker with `database`, named by the naming function. */
export function grantsFromConfig(stack: string, config: StackConfig): GrantsSpec {
  const roles: GrantsSpec["roles"] = {};
  for (const [worker, w] of Object.entries(config.workers)) {
    if (!w.database) continue;
    roles[cloudName(stack, "pgRole", worker)] = {
      reads: [...new Set(w.database.reads)].sort(),
      writes: [...new Set(w.database.writes)].sort(),
    };
  }
  return { schemas: [...config.neon.schemas], roles };
}

const ALLOWED_SPEC = `{"schemas": [...], "roles": {"<role>": {"reads": [...], "writes": [...]}}}`;

export function parseGrantsSpec(json: string, source: string): GrantsSpec {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch (e) {
    throw new InputError(`${source}: not JSON (${(e as Error).message}) (allowed: ${ALLOWED_SPEC})`);
  }
  const r = grantsSpecSchema.safeParse(raw);
  if (!r.success) {
    const problems = r.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ");
    throw new InputError(`${source}: ${problems} (allowed: ${ALLOWED_SPEC})`);
  }
  return r.data;
}
