-- Campaign performance: stats of one campaign by date, newest first. From the platform notes' recommended indexes.
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_campaign_daily_stats_campaign
ON analytics.campaign_daily_stats (campaign_id, organization_id, date DESC);
