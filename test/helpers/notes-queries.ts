/**
 * The platform notes' key queries (seed/performance-notes.md) as the catalog names them, in the notes' order, plus
 * the containment form of the segment query: written out here, independent of migrations/queries/catalog.ts, so the
 * suites that compare against it can fail when the catalog or the benchmark drops or renames a query.
 */
export const NOTES_QUERIES = [
  "contact-list",
  "contact-by-email",
  "segment-members",
  "segment-members-containment",
  "suppression-check",
  "daily-send-count",
  "hourly-aggregation",
  "campaign-performance",
  "execution-by-id",
  "stale-execution-cleanup",
];
