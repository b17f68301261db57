-- Contact activity lookups by contact (the analytics timeline). From the platform notes' recommended indexes.
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_contact_activity_org_contact
ON analytics.contact_activity (organization_id, contact_id, created_at DESC);
