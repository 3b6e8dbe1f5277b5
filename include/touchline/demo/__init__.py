"""Demo data: a fictional customer-success book of business, written as a file drop."""

from touchline.demo.generator import DEFAULT_END_DATE, DemoSummary, generate

__all__ = ["DEFAULT_END_DATE", "DemoSummary", "generate"]
