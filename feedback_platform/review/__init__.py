"""Human review: the queue of items people should judge, their labels, and agreement."""
