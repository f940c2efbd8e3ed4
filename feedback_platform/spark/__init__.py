"""The Spark engine's services (``FEEDBACK_PLATFORM_ENGINE=spark``)."""
