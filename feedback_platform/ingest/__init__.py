"""Ingestion of event drops into ``raw.feedback_events`` with quarantine and file bookkeeping."""
