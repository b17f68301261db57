-- Hourly event aggregation (`WHERE created_at >= $1 GROUP BY organization_id, event_type`): the notes' indexes all
-- lead with organization_id, so the job seq-scans every activity row. A B-tree on created_at, not BRIN: BRIN is
-- ~1/1000 the size and reads fewer buffers on freshly loaded data, but new rows land in the free space vacuum
-- records in old pages, each one widens a whole block range to "now", and the last-hour scan reads those ranges
-- too. Measured at scale 1 (`npm run infra -- bench`): after 5 s of concurrent inserts the BRIN scan read 3,642
-- buffers (from 90), the B-tree 976 (from 474).
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_contact_activity_created_at
ON analytics.contact_activity (created_at);
