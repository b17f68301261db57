/**
 * Concurrent writers for the write-availability benchmark: one session per table inserting on a fixed schedule
 * (open loop). Latency is measured from each insert's scheduled time, not from when it was sent, so an insert
 * queued behind a blocked one counts its whole wait (no coordinated omission): a 10 s lock shows as 10 s.
 */
import { Client } from "pg";

/** Rows the writers add belong to this organization only, so they can be deleted after each phase. */
export const BENCH_ORG = "00000000-0000-4000-8000-00000000be9c";

export const WRITER_TABLES = {
  "crm.contacts": `INSERT INTO crm.contacts (organization_id, email, status, custom_fields)
                   VALUES ('${BENCH_ORG}', 'writer-' || $1::text || '@bench.invalid', 'active', '{"city": "Boston"}')`,
  "analytics.contact_activity": `INSERT INTO analytics.contact_activity (organization_id, contact_id, event_type)
                                 VALUES ('${BENCH_ORG}', gen_random_uuid(), 'page_view')`,
} as const;

export type WriterTable = keyof typeof WRITER_TABLES;

export interface WriteStats {
  table: string;
  inserts: number;
  errors: number;
  p50Ms: number;
  p99Ms: number;
  /** The longest any one insert waited from its scheduled time: the write stall. */
  maxMs: number;
}

export interface Writers {
  stop(): Promise<WriteStats[]>;
}

export function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return 0;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

export async function startWriters(url: string, intervalMs = 10): Promise<Writers> {
  let n = 0;
  const sessions = await Promise.all(
    (Object.keys(WRITER_TABLES) as WriterTable[]).map(async (table) => {
      const client = new Client({ connectionString: url, application_name: "mauntic-bench-writer" });
      client.on("error", () => undefined);
      await client.connect();
      const sql = WRITER_TABLES[table];
      const s = {
        table,
        client,
        latencies: [] as number[],
        errors: 0,
        /** Scheduled times of inserts not yet sent: one session runs one statement at a time. */
        queue: [] as number[],
        drained: Promise.resolve(),
        running: false,
        enqueue(at: number) {
          s.queue.push(at);
          if (!s.running) s.drained = drain();
        },
      };
      const drain = async () => {
        s.running = true;
        while (s.queue.length) {
          const scheduled = s.queue.shift()!;
          try {
            await client.query(sql, sql.includes("$1") ? [String(++n)] : []);
            s.latencies.push(performance.now() - scheduled);
          } catch {
            s.errors += 1;
          }
        }
        s.running = false;
      };
      return s;
    }),
  );
  const t0 = performance.now();
  let tick = 0;
  let timer: NodeJS.Timeout | undefined;
  const schedule = () => {
    const scheduled = t0 + tick * intervalMs;
    tick++;
    for (const s of sessions) s.enqueue(scheduled);
    // the next tick at its planned time, however late this one ran
    timer = setTimeout(schedule, Math.max(0, t0 + tick * intervalMs - performance.now()));
  };
  schedule();
  return {
    async stop() {
      if (timer) clearTimeout(timer);
      const stats: WriteStats[] = [];
      for (const s of sessions) {
        await s.drained;
        await s.client.end().catch(() => undefined);
        const sorted = [...s.latencies].sort((a, b) => a - b);
        stats.push({
          table: s.table,
          inserts: sorted.length,
          errors: s.errors,
          p50Ms: percentile(sorted, 50),
          p99Ms: percentile(sorted, 99),
          maxMs: sorted[sorted.length - 1] ?? 0,
        });
      }
      return stats;
    },
  };
}
