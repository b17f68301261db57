/**
 * What the runner shows while an index builds: on a terminal a redrawn bar (label, percent, PostgreSQL's phase)
 * that notes never tear, plain lines otherwise; and the percent read from pg_stat_progress_create_index.
 */
import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { barReporter, lineReporter, percentOf, reporterFor } from "../migrations/runner/progress";

/** A stream that says it is a terminal, as process.stderr does in one; collects what was drawn. */
function fakeTerminal(): NodeJS.WriteStream & { text(): string } {
  const s = new PassThrough() as unknown as NodeJS.WriteStream & { text(): string };
  let text = "";
  s.on("data", (d: Buffer) => (text += d.toString()));
  Object.assign(s, { isTTY: true, columns: 120, text: () => text });
  return s;
}

/** Screen text without cursor movement and line-clearing escapes. */
const visible = (s: string) => s.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, "");

describe("the terminal progress bar", () => {
  it("draws label, percent and phase; a note stops the bar above it; the end shows 100% built", async () => {
    const term = fakeTerminal();
    const r = barReporter(term);
    r.buildStarted("0006 idx_contact_activity_created_at");
    r.buildProgress("0006 idx_contact_activity_created_at", {
      phase: "building index: scanning table",
      percent: 42.4,
    });
    r.note("lock wait timed out; retry 1/5 in 500ms");
    r.buildStarted("0007 idx_journey_executions_active_started");
    r.buildEnded("0007 idx_journey_executions_active_started");
    await new Promise((resolve) => setImmediate(resolve));
    const screen = visible(term.text());
    const first = screen.indexOf("0006 idx_contact_activity_created_at [");
    const scanning = screen.indexOf("42% | building index: scanning table");
    const note = screen.indexOf("lock wait timed out; retry 1/5 in 500ms\n");
    const done = screen.lastIndexOf("0007 idx_journey_executions_active_started [");
    expect(first).toBeGreaterThanOrEqual(0);
    expect(screen).toMatch(/0006 idx_contact_activity_created_at \[[^\]]*\] 0% \| initializing/);
    // the bar was redrawn at 42% before the note, and the note sits on its own line after it
    expect(scanning).toBeGreaterThan(first);
    expect(note).toBeGreaterThan(scanning);
    expect(done).toBeGreaterThan(note);
    expect(screen.slice(done)).toMatch(/^0007 idx_journey_executions_active_started \[[^\]]*\] 100% \| built/m);
    // the cursor is hidden while the bar draws and shown again when it stops
    expect(term.text()).toContain("\x1b[?25l");
    expect(term.text().lastIndexOf("\x1b[?25h")).toBeGreaterThan(term.text().lastIndexOf("\x1b[?25l"));
  });

  it("reporterFor draws the bar on a terminal and plain lines elsewhere", () => {
    const term = fakeTerminal();
    reporterFor(term).buildStarted("0001 x");
    expect(visible(term.text())).toMatch(/0001 x \[.*\] 0% \| initializing/);
    reporterFor(term).buildEnded("0001 x");

    let plain = "";
    const pipe = { isTTY: false, write: (s: string) => (plain += s) } as unknown as NodeJS.WriteStream;
    const lines = reporterFor(pipe);
    lines.buildStarted("0001 x");
    lines.buildProgress("0001 x", { phase: "building index: scanning table", percent: 12 });
    lines.buildProgress("0001 x", { phase: "building index: scanning table", percent: 14 }); // same 10% step
    lines.buildProgress("0001 x", { phase: "building index: scanning table", percent: 27 });
    lines.buildEnded("0001 x");
    expect(plain).toBe(
      [
        "0001 x: building",
        "0001 x: building index: scanning table 12%",
        "0001 x: building index: scanning table 27%",
        "0001 x: built",
        "",
      ].join("\n"),
    );
    expect(plain).not.toContain("\x1b");
    // lineReporter is what reporterFor picked
    let direct = "";
    lineReporter({ write: (s: string) => (direct += s) }).buildStarted("0001 x");
    expect(direct).toBe("0001 x: building\n");
  });

  it("percent comes from blocks while scanning, tuples while loading, lockers while waiting", () => {
    const row = (o: Partial<Record<string, string>>) => ({
      phase: "p",
      blocks_total: "0",
      blocks_done: "0",
      tuples_total: "0",
      tuples_done: "0",
      lockers_total: "0",
      lockers_done: "0",
      ...o,
    });
    expect(percentOf(row({ blocks_total: "200", blocks_done: "50" }))).toBe(25);
    expect(percentOf(row({ tuples_total: "1000", tuples_done: "999" }))).toBeCloseTo(99.9);
    expect(percentOf(row({ lockers_total: "4", lockers_done: "1" }))).toBe(25);
    expect(percentOf(row({ blocks_total: "10", blocks_done: "12" }))).toBe(100);
    expect(percentOf(row({}))).toBeNull();
  });
});
