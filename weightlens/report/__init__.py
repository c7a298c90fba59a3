"""Reports as data: records, summaries, their JSON schema, saved reports read back, atomic output."""
