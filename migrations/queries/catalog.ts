/**
 * The platform's key queries (performance notes, "Key Queries Requiring EXPLAIN ANALYZE"): the SQL exactly as the
 * notes write it, how to pick realistic parameters from the data, and the index that must serve each one. The
 * explain check and the benchmark both read this list; adding a key query is adding an entry.
 */

/**
 * What parameter pickers may refer to, computed once per run: the largest organization by contacts (the worst
 * case for every tenant-scoped query) and the data's clock (the newest activity, standing in for now() so that
 * old seeded data still has a "last hour").
 */
export type PickerArg = "organization" | "clock";

export interface Picker {
  /** One row whose columns are the query's $1, $2, ... in order. */
  sql: string;
  /** The picker's own $1, $2, ... in order. */
  args: PickerArg[];
}

export type Domain = "crm" | "delivery" | "analytics" | "journey";

export interface KeyQuery {
  /** Stable id (CLI output, JSON, tests). */
  name: string;
  domain: Domain;
  /** The notes' comment above the query. */
  description: string;
  /** Exactly as the notes write it (after their `EXPLAIN ANALYZE` line). */
  sql: string;
  /** The table the query reads. */
  table: string;
  params: Picker;
  /**
   * Indexes that serve the query; the check requires one of them in the plan and no sequential scan over a big
   * table. Empty for a query reported as needing a rewrite (see `rewrite`).
   */
  servedBy: string[];
  /** The benchmark's latency target at scale 1, when the issue sets one. */
  p50TargetMs?: number;
  /**
   * A form the project serves through a rewrite rather than an index of its own: when no index condition in its
   * plan applies `operator`, the check reports the rewrite (if the rewritten entry is index-served) or fails.
   */
  rewrite?: Rewrite;
}

export interface Rewrite {
  /** The catalog entry that rewrites this query. */
  to: string;
  /** The operator an index would have to serve (as EXPLAIN prints it). */
  operator: string;
  /** Why the project's indexes do not serve the operator, for the report. */
  why: string;
}

const LARGEST_ORG: Picker = { sql: "SELECT $1::uuid::text", args: ["organization"] };

export const KEY_QUERIES: readonly KeyQuery[] = [
  {
    name: "contact-list",
    domain: "crm",
    description: "Contact list with pagination (most frequent query)",
    sql: `SELECT * FROM crm.contacts
WHERE organization_id = $1
ORDER BY updated_at DESC
LIMIT 20 OFFSET 0;`,
    table: "crm.contacts",
    params: LARGEST_ORG,
    servedBy: ["contacts_org_updated_idx"],
    p50TargetMs: 2,
  },
  {
    name: "contact-by-email",
    domain: "crm",
    description: "Contact search by email (used in deduplication, delivery suppression check)",
    sql: `SELECT * FROM crm.contacts
WHERE organization_id = $1 AND email = $2;`,
    table: "crm.contacts",
    params: {
      sql: `SELECT organization_id::text, email FROM crm.contacts
            WHERE organization_id = $1 AND email IS NOT NULL ORDER BY updated_at DESC LIMIT 1`,
      args: ["organization"],
    },
    servedBy: ["contacts_org_email_idx"],
    p50TargetMs: 2,
  },
  {
    name: "segment-members",
    domain: "crm",
    description: "Segment membership evaluation (dynamic segments)",
    sql: `SELECT c.* FROM crm.contacts c
WHERE c.organization_id = $1
  AND c.status = 'active'
  AND c.custom_fields->>'city' = 'New York';`,
    table: "crm.contacts",
    params: LARGEST_ORG,
    servedBy: [],
    rewrite: {
      to: "segment-members-containment",
      operator: "->>",
      why: "a GIN jsonb_path_ops index serves @>, @?, @@ only: `custom_fields->>'city' = ...` cannot use it",
    },
  },
  {
    name: "segment-members-containment",
    domain: "crm",
    description: "Segment membership evaluation, containment form (what the GIN index serves)",
    sql: `SELECT c.* FROM crm.contacts c
WHERE c.organization_id = $1
  AND c.status = 'active'
  AND c.custom_fields @> '{"city": "New York"}';`,
    table: "crm.contacts",
    params: LARGEST_ORG,
    servedBy: ["idx_contacts_custom_fields_gin"],
  },
  {
    name: "suppression-check",
    domain: "delivery",
    description: "Suppression list check (every outbound email)",
    sql: `SELECT id FROM delivery.suppressions
WHERE organization_id = $1 AND email = $2
LIMIT 1;`,
    table: "delivery.suppressions",
    params: {
      sql: `SELECT organization_id::text, email FROM delivery.suppressions
            WHERE organization_id = $1 ORDER BY email LIMIT 1`,
      args: ["organization"],
    },
    servedBy: ["suppressions_org_email_idx"],
    p50TargetMs: 2,
  },
  {
    name: "daily-send-count",
    domain: "delivery",
    description: "Daily send count for warmup limit check",
    sql: `SELECT count(*)::int FROM delivery.delivery_events
WHERE organization_id = $1
  AND channel = 'email'
  AND event_type = 'sent'
  AND created_at >= $2;`,
    table: "delivery.delivery_events",
    // the warmup limit is a rolling day
    params: {
      sql: "SELECT $1::uuid::text, ($2::timestamptz - interval '1 day')::text",
      args: ["organization", "clock"],
    },
    servedBy: ["idx_delivery_events_org_channel_type_date"],
  },
  {
    name: "hourly-aggregation",
    domain: "analytics",
    description: "Hourly event aggregation (scheduled job)",
    sql: `SELECT organization_id, event_type, count(*)::int, count(DISTINCT contact_id)::int
FROM analytics.contact_activity
WHERE created_at >= $1
GROUP BY organization_id, event_type;`,
    table: "analytics.contact_activity",
    params: { sql: "SELECT ($1::timestamptz - interval '1 hour')::text", args: ["clock"] },
    servedBy: ["idx_contact_activity_created_at"],
  },
  {
    name: "campaign-performance",
    domain: "analytics",
    description: "Campaign performance query",
    sql: `SELECT * FROM analytics.campaign_daily_stats
WHERE campaign_id = $1 AND organization_id = $2
ORDER BY date DESC;`,
    table: "analytics.campaign_daily_stats",
    params: {
      sql: `SELECT campaign_id::text, organization_id::text FROM analytics.campaign_daily_stats
            WHERE organization_id = $1 GROUP BY campaign_id, organization_id ORDER BY count(*) DESC, campaign_id LIMIT 1`,
      args: ["organization"],
    },
    servedBy: ["idx_campaign_daily_stats_campaign"],
    p50TargetMs: 2,
  },
  {
    name: "execution-by-id",
    domain: "journey",
    description: "Active execution lookup (used during step processing)",
    sql: `SELECT * FROM journey.journey_executions
WHERE id = $1 AND organization_id = $2;`,
    table: "journey.journey_executions",
    params: {
      sql: `SELECT id::text, organization_id::text FROM journey.journey_executions
            WHERE organization_id = $1 AND status = 'active' ORDER BY started_at DESC, id LIMIT 1`,
      args: ["organization"],
    },
    servedBy: ["journey_executions_pkey"],
    p50TargetMs: 2,
  },
  {
    name: "stale-execution-cleanup",
    domain: "journey",
    description: "Stale execution cleanup (scheduled job)",
    sql: `SELECT * FROM journey.journey_executions
WHERE status = 'active' AND started_at < $1;`,
    table: "journey.journey_executions",
    // an execution still active a week after it started is stale
    params: { sql: "SELECT ($1::timestamptz - interval '7 days')::text", args: ["clock"] },
    servedBy: ["idx_journey_executions_active_started"],
  },
];

/** The notes' "Recommended Additional Indexes", exactly as written (plain CREATE INDEX): the benchmark's set (b). */
export const NOTES_RECOMMENDED_INDEXES: readonly { name: string; table: string; sql: string }[] = [
  {
    name: "idx_contact_activity_org_contact",
    table: "analytics.contact_activity",
    sql: `CREATE INDEX idx_contact_activity_org_contact
ON analytics.contact_activity (organization_id, contact_id, created_at DESC);`,
  },
  {
    name: "idx_campaign_daily_stats_campaign",
    table: "analytics.campaign_daily_stats",
    sql: `CREATE INDEX idx_campaign_daily_stats_campaign
ON analytics.campaign_daily_stats (campaign_id, organization_id, date DESC);`,
  },
  {
    name: "idx_journey_executions_org_status",
    table: "journey.journey_executions",
    sql: `CREATE INDEX idx_journey_executions_org_status
ON journey.journey_executions (organization_id, status);`,
  },
  {
    name: "idx_delivery_events_org_channel_type_date",
    table: "delivery.delivery_events",
    sql: `CREATE INDEX idx_delivery_events_org_channel_type_date
ON delivery.delivery_events (organization_id, channel, event_type, created_at);`,
  },
  {
    name: "idx_contacts_custom_fields_gin",
    table: "crm.contacts",
    sql: `CREATE INDEX idx_contacts_custom_fields_gin
ON crm.contacts USING gin (custom_fields jsonb_path_ops);`,
  },
];

/** The largest organization by contacts and the data's clock (the newest activity row). */
export const CONTEXT_SQL = {
  organization: `SELECT organization_id::text AS v FROM crm.contacts
                 GROUP BY organization_id ORDER BY count(*) DESC, organization_id LIMIT 1`,
  clock: "SELECT max(created_at)::text AS v FROM analytics.contact_activity",
} as const;

export function keyQuery(name: string): KeyQuery {
  const q = KEY_QUERIES.find((k) => k.name === name);
  if (!q) throw new Error(`no key query '${name}' (allowed: ${KEY_QUERIES.map((k) => k.name).join(", ")})`);
  return q;
}
