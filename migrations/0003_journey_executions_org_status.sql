-- Journey execution status queries per tenant. From the platform notes' recommended indexes.
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_journey_executions_org_status
ON journey.journey_executions (organization_id, status);
