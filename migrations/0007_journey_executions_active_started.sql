-- Stale execution cleanup (`WHERE status = 'active' AND started_at < $1`): no listed index leads with status or
-- started_at, so the job seq-scans every execution. Measured at scale 1: a partial index over the active
-- executions and a (status, started_at) B-tree read the same buffers within 1% (4,754 vs 4,705: the stale rows'
-- heap pages dominate; the notes' set reads 8,565), and the partial one is 1/43 of the size (432 kB vs 18.6 MB).
-- It serves only queries that write the literal `status = 'active'` (a `status = $2` parameter cannot prove the
-- predicate), as this job does.
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_journey_executions_active_started
ON journey.journey_executions (started_at) WHERE status = 'active';
