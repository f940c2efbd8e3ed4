"""feedback-platform: user behaviour on an ML/LLM product turned into training data and reports."""
