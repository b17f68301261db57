/**
 * Realistic data for the app-schema fixture, generated inside PostgreSQL with generate_series (one INSERT ... SELECT
 * per table, no row-by-row traffic). Sizes scale linearly; scale 1 is the platform's order of magnitude:
 * ~1,000 organizations, 1,000,000 contacts, 5,000,000 activity rows over 90 days, 2,000,000 delivery events,
 * 200,000 suppressions, 500,000 journey executions and a campaign_daily_stats row per campaign per running day.
 *
 * Every value derives from a hash of the row number (hashint8extended), not random(): the same scale always yields
 * the same data, statements need no session state (no temp tables or functions, so a pooled host works too), and
 * one row's organization can be recomputed from its contact number without a join.
 *
 * Organization sizes are Zipf-like: a contact's organization rank is floor((n+1)^u) for u uniform in [0,1), so
 * rank k holds ln((k+1)/k)/ln(n+1) of all contacts (the largest ~10% at scale 1, the smallest ~0.015%).
 */
import type { ClientBase } from "pg";
import { fmtMs } from "../runner/report";

export const SCALE_MIN = 0.001;
export const SCALE_MAX = 10;

/** Row counts at scale 1 (organizations are at least 10 at any scale so the skew stays visible). */
export const BASE = {
  organizations: 1_000,
  contacts: 1_000_000,
  contactActivity: 5_000_000,
  deliveryEvents: 2_000_000,
  suppressions: 200_000,
  journeyExecutions: 500_000,
} as const;

/** Days of history for activity, delivery events, executions and campaign stats. */
export const HISTORY_DAYS = 90;
/** One campaign per this many contacts of an organization, one journey per JOURNEY_EVERY. */
const CAMPAIGN_EVERY = 100;
const JOURNEY_EVERY = 2_000;

export interface SeedSizes {
  scale: number;
  organizations: number;
  contacts: number;
  contactActivity: number;
  deliveryEvents: number;
  suppressions: number;
  journeyExecutions: number;
}

export function seedSizes(scale: number): SeedSizes {
  if (!Number.isFinite(scale) || scale < SCALE_MIN || scale > SCALE_MAX) {
    throw new RangeError(
      `scale ${scale} is out of range (allowed: ${SCALE_MIN} to ${SCALE_MAX}; 1 = 1,000,000 contacts)`,
    );
  }
  const n = (base: number) => Math.max(1, Math.round(base * scale));
  return {
    scale,
    organizations: Math.max(10, n(BASE.organizations)),
    contacts: n(BASE.contacts),
    contactActivity: n(BASE.contactActivity),
    deliveryEvents: n(BASE.deliveryEvents),
    suppressions: n(BASE.suppressions),
    journeyExecutions: n(BASE.journeyExecutions),
  };
}

/** The tables the seed fills, in fill order; `seedData` refuses to run when any of them already has rows. */
export const SEEDED_TABLES = [
  "identity.organizations",
  "crm.contacts",
  "analytics.contact_activity",
  "analytics.campaign_daily_stats",
  "delivery.delivery_events",
  "delivery.delivery_jobs",
  "delivery.suppressions",
  "journey.journeys",
  "journey.journey_executions",
] as const;

/** Uniform float in [0,1) from a row number and a salt: 53 bits of a 64-bit hash. */
const u = (salt: number, expr: string) =>
  `((hashint8extended((${expr})::bigint, ${salt}) & 9007199254740991)::float8 / 9007199254740992)`;

/** An element of a text array, biased to the front when skew > 1 (index = floor(u^skew * len)). */
function pick(values: readonly string[], uExpr: string, skew = 1): string {
  const arr = `ARRAY[${values.map((v) => `'${v.replace(/'/g, "''")}'`).join(",")}]`;
  return `(${arr})[1 + floor(power(${uExpr}, ${skew}) * ${values.length})::int]`;
}

export const CITIES = [
  "New York",
  "Los Angeles",
  "Chicago",
  "London",
  "Toronto",
  "Houston",
  "San Francisco",
  "Berlin",
  "Austin",
  "Seattle",
  "Boston",
  "Paris",
  "Sydney",
  "Amsterdam",
  "Madrid",
  "Dublin",
  "Singapore",
  "Tokyo",
  "Sao Paulo",
  "Mumbai",
] as const;
const FIRST = [
  "James",
  "Mary",
  "Robert",
  "Patricia",
  "John",
  "Jennifer",
  "Michael",
  "Linda",
  "David",
  "Elizabeth",
  "Wei",
  "Aisha",
  "Carlos",
  "Sofia",
  "Yuki",
  "Olga",
];
const LAST = [
  "Smith",
  "Johnson",
  "Williams",
  "Brown",
  "Jones",
  "Garcia",
  "Miller",
  "Davis",
  "Martinez",
  "Lee",
  "Chen",
  "Khan",
  "Silva",
  "Novak",
  "Tanaka",
  "Murphy",
];
const DOMAINS = [
  "gmail.com",
  "outlook.com",
  "yahoo.com",
  "icloud.com",
  "proton.me",
  "hey.com",
  "fastmail.com",
  "acme.io",
];

export interface SeedStep {
  table: string;
  rows: number;
  ms: number;
}

/** One progress line: `[2/10] crm.contacts: 50000 rows, 1.2s` (the closing vacuum has no row count). */
export function seedStepLine(step: SeedStep, index: number, total: number): string {
  return `[${index}/${total}] ${step.table}: ${step.rows ? `${step.rows} rows, ` : ""}${fmtMs(step.ms)}`;
}

/** Plain-SQL expressions shared by the statements below, for one size set. */
function exprs(z: SeedSizes) {
  const orgs = z.organizations;
  const orgOf = (cn: string) => `least(floor(power(${orgs + 1}, ${u(1, cn)}))::int, ${orgs})`;
  /** Expected share of contacts for organization rank k (the log-uniform law above). */
  const share = (k: string) => `(ln((${k} + 1)::float8 / ${k}) / ln(${orgs + 1}))`;
  return {
    orgOf,
    orgId: (k: string) => `md5('org:' || (${k}))::uuid`,
    contactId: (cn: string) => `md5('contact:' || (${cn}))::uuid`,
    contactEmail: (cn: string) =>
      `lower(${pick(FIRST, u(2, cn))}) || '.' || lower(${pick(LAST, u(3, cn))}) || (${cn}) || '@' || ${pick(DOMAINS, u(4, cn), 1.5)}`,
    /** A contact number drawn uniformly by row number g, so per-organization volume follows organization size. */
    contactOf: (salt: number, g: string) => `(1 + floor(${u(salt, g)} * ${z.contacts})::bigint)`,
    campaigns: (k: string) => `greatest(1, round(${share(k)} * ${z.contacts} / ${CAMPAIGN_EVERY}))::int`,
    journeys: (k: string) => `greatest(1, round(${share(k)} * ${z.contacts} / ${JOURNEY_EVERY}))::int`,
    /** Time-ordered over the history window: row g of total lands at its fraction of the window, jitter < 1 min. */
    timeOf: (g: string, total: number, salt: number) =>
      `(now() - interval '${HISTORY_DAYS} days' + interval '${HISTORY_DAYS} days' * ((${g})::float8 / ${total}) - interval '1 minute' * ${u(salt, g)})`,
  };
}

/** The INSERT ... SELECT statements of one seed, in order. Exported for inspection and tests. */
export function seedStatements(z: SeedSizes): { table: string; sql: string }[] {
  const e = exprs(z);
  const statuses = `CASE WHEN ${u(11, "cn")} < 0.86 THEN 'active' WHEN ${u(11, "cn")} < 0.93 THEN 'unsubscribed' WHEN ${u(11, "cn")} < 0.97 THEN 'bounced' ELSE 'archived' END`;
  return [
    {
      table: "identity.organizations",
      sql: `INSERT INTO identity.organizations (id, name, slug, plan_id, created_at, updated_at)
SELECT ${e.orgId("k")}, 'Organization ' || k, 'org-' || k,
  CASE WHEN k <= ${z.organizations} * 0.02 THEN 'enterprise' WHEN k <= ${z.organizations} * 0.15 THEN 'pro'
       WHEN k <= ${z.organizations} * 0.5 THEN 'starter' ELSE 'free' END,
  now() - interval '3 years' * ${u(5, "k")}, now() - interval '30 days' * ${u(6, "k")}
FROM generate_series(1, ${z.organizations}) k`,
    },
    {
      // created over two years in contact-number order (imports append); updated_at leans towards created_at
      table: "crm.contacts",
      sql: `INSERT INTO crm.contacts (id, organization_id, email, first_name, last_name, phone, status, custom_fields, created_at, updated_at)
SELECT ${e.contactId("cn")}, ${e.orgId(e.orgOf("cn"))}, ${e.contactEmail("cn")},
  ${pick(FIRST, u(2, "cn"))}, ${pick(LAST, u(3, "cn"))},
  CASE WHEN ${u(10, "cn")} < 0.6 THEN '+1' || lpad((floor(${u(12, "cn")} * 1e10))::bigint::text, 10, '0') END,
  ${statuses},
  jsonb_strip_nulls(jsonb_build_object(
    'city', CASE WHEN ${u(13, "cn")} < 0.9 THEN ${pick(CITIES, u(14, "cn"), 1.8)} END,
    'plan', ${pick(["free", "starter", "pro", "enterprise"], u(15, "cn"), 1.5)},
    'source', ${pick(["import", "form", "api", "landing-page", "manual"], u(16, "cn"), 1.3)},
    'score', floor(${u(17, "cn")} * 100)::int,
    'company_size', ${pick(["1-10", "11-50", "51-200", "201-1000", "1000+"], u(18, "cn"), 1.4)},
    'newsletter', ${u(19, "cn")} < 0.4)),
  created, created + (now() - created) * power(${u(20, "cn")}, 3)
FROM (SELECT cn, now() - interval '730 days' * (1 - cn::float8 / ${z.contacts}) AS created
      FROM generate_series(1, ${z.contacts}) cn) g`,
    },
    {
      table: "analytics.contact_activity",
      sql: `INSERT INTO analytics.contact_activity (organization_id, contact_id, event_type, campaign_id, metadata, created_at)
SELECT ${e.orgId("k")}, ${e.contactId("cn")}, et,
  CASE WHEN et LIKE 'email_%' THEN md5('campaign:' || k || ':' || floor(${u(23, "g")} * ${e.campaigns("k")}))::uuid END,
  CASE WHEN et = 'page_view' THEN jsonb_build_object('path', '/p/' || floor(${u(24, "g")} * 50)::int) ELSE '{}'::jsonb END,
  ts
FROM (SELECT g, cn, ${e.orgOf("cn")} AS k, ts,
        CASE WHEN r < 0.35 THEN 'email_sent' WHEN r < 0.55 THEN 'email_opened' WHEN r < 0.62 THEN 'email_clicked'
             WHEN r < 0.82 THEN 'page_view' WHEN r < 0.85 THEN 'form_submitted' WHEN r < 0.90 THEN 'sms_sent'
             ELSE 'journey_step' END AS et
      FROM (SELECT g, ${e.contactOf(21, "g")} AS cn, ${u(22, "g")} AS r, ${e.timeOf("g", z.contactActivity, 25)} AS ts
            FROM generate_series(1, ${z.contactActivity}) g) a) b`,
    },
    {
      // each campaign runs 7..60 days starting somewhere in the window; one row per running day
      table: "analytics.campaign_daily_stats",
      sql: `INSERT INTO analytics.campaign_daily_stats (organization_id, campaign_id, date, sent, delivered, opened, clicked, bounced, unsubscribed)
SELECT ${e.orgId("k")}, md5('campaign:' || k || ':' || c)::uuid, d::date, sent,
  round(sent * 0.97)::int, round(sent * 0.97 * (0.15 + 0.2 * r))::int, round(sent * 0.97 * (0.02 + 0.05 * r))::int,
  round(sent * 0.03)::int, round(sent * 0.004)::int
FROM generate_series(1, ${z.organizations}) k
CROSS JOIN LATERAL generate_series(0, ${e.campaigns("k")} - 1) c
CROSS JOIN LATERAL (SELECT floor(${u(31, "k::bigint * 1000000 + c")} * ${HISTORY_DAYS})::int AS start_day,
                           7 + floor(${u(32, "k::bigint * 1000000 + c")} * 54)::int AS days,
                           ${u(33, "k::bigint * 1000000 + c")} AS r) s
CROSS JOIN LATERAL generate_series(current_date - ${HISTORY_DAYS} + start_day,
                                   least(current_date, current_date - ${HISTORY_DAYS} + start_day + days), interval '1 day') d
CROSS JOIN LATERAL (SELECT (50 + floor(${u(34, "k::bigint * 1000000 + c")} * 2000))::int AS sent) v`,
    },
    {
      // one job per organization, day and channel; events in time order
      table: "delivery.delivery_events",
      sql: `INSERT INTO delivery.delivery_events (job_id, organization_id, contact_id, channel, event_type, provider, created_at)
SELECT md5('job:' || k || ':' || floor(extract(epoch FROM ts) / 86400) || ':' || channel)::uuid,
  ${e.orgId("k")}, ${e.contactId("cn")}, channel,
  CASE WHEN channel = 'email' THEN
         CASE WHEN r < 0.45 THEN 'sent' WHEN r < 0.80 THEN 'delivered' WHEN r < 0.92 THEN 'opened'
              WHEN r < 0.96 THEN 'clicked' WHEN r < 0.98 THEN 'bounced' WHEN r < 0.985 THEN 'complained'
              ELSE 'unsubscribed' END
       ELSE CASE WHEN r < 0.5 THEN 'sent' WHEN r < 0.95 THEN 'delivered' ELSE 'failed' END END,
  CASE WHEN channel = 'sms' THEN 'twilio' ELSE (ARRAY['ses','sendgrid','postmark'])[1 + k % 3] END,
  ts
FROM (SELECT g, cn, ${e.orgOf("cn")} AS k, r, ts, CASE WHEN ${u(43, "g")} < 0.85 THEN 'email' ELSE 'sms' END AS channel
      FROM (SELECT g, ${e.contactOf(41, "g")} AS cn, ${u(42, "g")} AS r, ${e.timeOf("g", z.deliveryEvents, 44)} AS ts
            FROM generate_series(1, ${z.deliveryEvents}) g) a) b`,
    },
    {
      table: "delivery.delivery_jobs",
      sql: `INSERT INTO delivery.delivery_jobs (id, organization_id, channel, status, idempotency_key, recipient_count, created_at, updated_at)
SELECT job_id, organization_id, channel, CASE WHEN max(created_at) > now() - interval '1 hour' THEN 'sending' ELSE 'completed' END,
  'job:' || job_id, count(*)::int, min(created_at), max(created_at)
FROM delivery.delivery_events GROUP BY job_id, organization_id, channel`,
    },
    {
      // distinct contacts (multiplicative hash, a bijection while the constant is prime to the contact count)
      table: "delivery.suppressions",
      sql: `INSERT INTO delivery.suppressions (organization_id, email, reason, created_at)
SELECT ${e.orgId(e.orgOf("cn"))}, ${e.contactEmail("cn")},
  ${pick(["bounce", "unsubscribe", "complaint", "manual"], u(51, "sn"), 1.3)},
  now() - interval '${HISTORY_DAYS * 4} days' * ${u(52, "sn")}
FROM (SELECT sn, 1 + (sn * 2654435761) % ${z.contacts} AS cn FROM generate_series(1, ${z.suppressions}) sn) s`,
    },
    {
      table: "journey.journeys",
      sql: `INSERT INTO journey.journeys (id, organization_id, name, status, created_at, updated_at)
SELECT md5('journey:' || k || ':' || j)::uuid, ${e.orgId("k")}, 'Journey ' || (j + 1),
  ${pick(["active", "active", "active", "paused", "draft", "archived"], u(61, "k::bigint * 100000 + j"))},
  now() - interval '1 year' * ${u(62, "k::bigint * 100000 + j")}, now() - interval '30 days' * ${u(63, "k::bigint * 100000 + j")}
FROM generate_series(1, ${z.organizations}) k CROSS JOIN LATERAL generate_series(0, ${e.journeys("k")} - 1) j`,
    },
    {
      // mostly finished; active ones are recent (last 3 days) except ~1.5% of older ones that never finished (stale)
      table: "journey.journey_executions",
      sql: `INSERT INTO journey.journey_executions (journey_id, organization_id, contact_id, status, current_step_id, started_at, completed_at, updated_at)
SELECT md5('journey:' || k || ':' || floor(${u(71, "g")} * ${e.journeys("k")}))::uuid, ${e.orgId("k")}, ${e.contactId("cn")},
  status, 'step-' || (1 + floor(${u(72, "g")} * 8)::int), started,
  CASE WHEN status <> 'active' THEN started + interval '14 days' * power(${u(73, "g")}, 2) END,
  CASE WHEN status <> 'active' THEN started + interval '14 days' * power(${u(73, "g")}, 2)
       ELSE started + interval '1 day' * ${u(74, "g")} END
FROM (SELECT g, cn, ${e.orgOf("cn")} AS k, started,
        CASE WHEN started > now() - interval '3 days' THEN (CASE WHEN r < 0.7 THEN 'active' ELSE 'completed' END)
             WHEN r < 0.015 THEN 'active' WHEN r < 0.85 THEN 'completed' WHEN r < 0.95 THEN 'exited' ELSE 'failed' END AS status
      FROM (SELECT g, ${e.contactOf(75, "g")} AS cn, ${u(76, "g")} AS r, ${e.timeOf("g", z.journeyExecutions, 77)} AS started
            FROM generate_series(1, ${z.journeyExecutions}) g) a) b`,
    },
  ];
}

/** A seed that cannot start (`input`: no fixture, tables not empty) or a statement that failed. */
export class SeedError extends Error {
  override name = "SeedError";
  constructor(
    message: string,
    readonly input = false,
  ) {
    super(message);
  }
}

/**
 * Fills an empty fixture. Each table is one statement in its own transaction; at the end every seeded table is
 * vacuumed and analyzed (visibility map for index-only scans, statistics for the planner) as a live database is.
 */
export async function seedData(
  db: ClientBase,
  scale: number,
  onStep: (step: SeedStep, index: number, total: number) => void = () => {},
): Promise<{ sizes: SeedSizes; steps: SeedStep[]; ms: number }> {
  const sizes = seedSizes(scale);
  const t0 = performance.now();
  const missing = await db.query<{ t: string }>(`SELECT t FROM unnest($1::text[]) t WHERE to_regclass(t) IS NULL`, [
    SEEDED_TABLES as readonly string[],
  ]);
  if (missing.rows.length) {
    throw new SeedError(
      `the app-schema fixture is not loaded (missing ${missing.rows.map((r) => r.t).join(", ")}); load it first: npm run infra -- fixture --database-url <url>`,
      true,
    );
  }
  const filled: string[] = [];
  for (const t of SEEDED_TABLES) {
    const r = await db.query(`SELECT 1 FROM ${t} LIMIT 1`);
    if (r.rowCount) filled.push(t);
  }
  if (filled.length) {
    throw new SeedError(`seed-data fills empty tables only; these already have rows: ${filled.join(", ")}`, true);
  }
  const statements = seedStatements(sizes);
  const steps: SeedStep[] = [];
  const total = statements.length + 1;
  for (const [i, s] of statements.entries()) {
    const t = performance.now();
    await db.query("BEGIN");
    try {
      // bulk load: a bigger sort/hash budget for this transaction only
      await db.query("SET LOCAL work_mem = '256MB'");
      const r = await db.query(s.sql);
      await db.query("COMMIT");
      const step = { table: s.table, rows: r.rowCount ?? 0, ms: Math.round(performance.now() - t) };
      steps.push(step);
      onStep(step, i + 1, total);
    } catch (e) {
      await db.query("ROLLBACK").catch(() => undefined);
      throw new SeedError(`seeding ${s.table} failed: ${(e as Error).message}`);
    }
  }
  const t = performance.now();
  await db.query(`VACUUM (ANALYZE) ${SEEDED_TABLES.join(", ")}`);
  const step = { table: "vacuum analyze", rows: 0, ms: Math.round(performance.now() - t) };
  steps.push(step);
  onStep(step, total, total);
  return { sizes, steps, ms: Math.round(performance.now() - t0) };
}
