-- Daily send count for the warmup limit check. From the platform notes' recommended indexes.
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_delivery_events_org_channel_type_date
ON delivery.delivery_events (organization_id, channel, event_type, created_at);
