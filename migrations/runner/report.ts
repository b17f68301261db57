/** Human-readable summaries of a run, a status and a dry run (the JSON forms are the result objects). */
import type { GrantPlan } from "./grants";
import type { DryRunResult, RunResult, StatusResult } from "./runner";

/** Left-aligned columns; a dependency for one table is not worth it. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  return [line(headers), ...rows.map(line)].join("\n");
}

/** A duration for messages and tables: `350ms`, `2.5s`, `42s`, `6h`. */
export function fmtMs(ms: number): string {
  if (ms >= 3_600_000) return `${Number((ms / 3_600_000).toFixed(1))}h`;
  return ms >= 1000 ? `${(ms / 1000).toFixed(ms >= 10_000 ? 0 : 1)}s` : `${Math.round(ms)}ms`;
}

const pad = (v: number) => String(v).padStart(4, "0");
const dur = (ms?: number) => (ms === undefined ? "" : fmtMs(ms));

function grantLines(g: (GrantPlan & { applied?: boolean }) | { skipped: string }, verb: string): string[] {
  if ("skipped" in g) return [`grants: skipped (${g.skipped})`];
  const lines = g.changes.length
    ? [`grants: ${g.changes.length} change${g.changes.length > 1 ? "s" : ""} ${verb}`]
    : g.missingSchemas.length
      ? ["grants: nothing to change in the schemas that exist"]
      : ["grants: every worker role already holds exactly its declared privileges"];
  for (const c of g.changes) {
    lines.push(`  ${c.role} on ${c.schema} ${c.target}: ${c.found} -> ${c.wanted.join(", ") || "none"}`);
  }
  for (const s of g.missingSchemas) lines.push(`  schema ${s} does not exist yet: its grants wait for a later run`);
  return lines;
}

export function renderRun(r: RunResult): string {
  const rows = r.migrations.map((m) => {
    const notes = [
      ...m.healed.map((h) => `rebuilt INVALID ${h}`),
      ...m.existing.map((h) => `${h} already existed`),
      ...(m.retries ? [`${m.retries} lock retr${m.retries > 1 ? "ies" : "y"}`] : []),
      ...(m.waitingFor ? [`waits for ${m.waitingFor.join(", ")}`] : []),
      ...(m.belowApplied ? [`out of order: numbered below applied ${pad(m.belowApplied)}`] : []),
      ...m.waits.map(
        (w) =>
          `waited ${fmtMs(w.ms)} ${w.phase.replace(/^waiting /, "")}${w.pids.length ? ` (pid ${w.pids.join(", ")})` : ""}`,
      ),
    ];
    return [pad(m.version), m.name, m.status, dur(m.durationMs), notes.join("; ")];
  });
  const applied = r.migrations.filter((m) => m.status === "applied").length;
  const out = [
    `migrations on ${r.database}: ${applied} applied this run, ${r.migrations.filter((m) => m.status === "already applied").length} already applied`,
    table(["VERSION", "NAME", "RESULT", "TIME", "NOTES"], rows),
    ...r.missingFiles.map((m) => `warning: ${pad(m.version)}_${m.name} is in the ledger but not in the folder`),
    ...grantLines(r.grants, "applied"),
  ];
  const waiting = r.migrations.filter((m) => m.status === "waiting").length;
  if (waiting) {
    out.push(
      `${waiting} migration${waiting > 1 ? "s wait" : " waits"} for tables the application has not created yet: applied by the first run after it does (every pulumi up runs this step)`,
    );
  }
  if (r.waitedForRunMs) out.push(`waited ${dur(r.waitedForRunMs)} for another run`);
  return `${out.join("\n")}\n`;
}

export function renderStatus(s: StatusResult): string {
  const rows = s.migrations.map((m) => [
    pad(m.version),
    m.name,
    m.status,
    m.appliedAt ?? "",
    dur(m.durationMs),
    m.appliedBy ?? "",
  ]);
  const out = [
    `migrations on ${s.database}`,
    table(["VERSION", "NAME", "STATUS", "APPLIED AT", "TIME", "APPLIED BY"], rows),
  ];
  out.push(s.invalidIndexes.length ? `INVALID indexes: ${s.invalidIndexes.join(", ")}` : "INVALID indexes: none");
  return `${out.join("\n")}\n`;
}

export function renderDryRun(d: DryRunResult): string {
  const out = [`dry run on ${d.database}: ${d.pending.length} migration(s) would be applied`];
  for (const p of d.pending) {
    out.push(`  ${p.file}`);
    for (const s of p.statements) {
      out.push(`    line ${s.line} (${s.kind}): ${s.sql.split("\n")[0]}`);
      if (s.blocking) out.push(`      blocks writers (${s.blocking.what}); allowed by the file: ${s.blocking.reason}`);
    }
  }
  for (const h of d.wouldHeal) out.push(`  INVALID ${h} would be dropped and rebuilt`);
  for (const w of d.waiting) out.push(`  ${w.file} would wait for ${w.waitingFor.join(", ")}`);
  out.push(...grantLines(d.grants, "would be applied"));
  return `${out.join("\n")}\n`;
}
