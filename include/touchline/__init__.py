"""touchline: customer-success touch planning, computed nightly in the warehouse."""

__version__ = "0.1.0"
