"""End-to-end pipelines of the two use cases."""
