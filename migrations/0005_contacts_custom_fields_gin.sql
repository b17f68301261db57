-- Dynamic segment evaluation over custom fields. From the platform notes' recommended indexes. jsonb_path_ops serves
-- containment (custom_fields @> '{"city": "New York"}'), not the notes' `custom_fields->>'city' = ...` form.
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_contacts_custom_fields_gin
ON crm.contacts USING gin (custom_fields jsonb_path_ops);
