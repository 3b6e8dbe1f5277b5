"""Data-quality gates with Great Expectations: before load and before export."""
