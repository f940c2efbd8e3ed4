"""Synthetic, deterministic event drops that look like a real LLM product's feedback."""
