"""Exchange rates to USD: a slow, mean-reverting random walk per currency (USD = 1)."""

from __future__ import annotations

import numpy as np

from touchline.demo.book import BASE_RATE_TO_USD, CURRENCIES
from touchline.demo.files import check_columns

FX_COLUMNS = ("currency", "rate_to_usd", "as_of_date")
check_columns("fx_rates", FX_COLUMNS)

DAILY_VOLATILITY = {"USD": 0.0, "BRL": 0.007, "MXN": 0.006, "JPY": 0.005}
DEFAULT_VOLATILITY = 0.004
MEAN_REVERSION = 0.02


class FxWalk:
    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.base = np.log(np.array(BASE_RATE_TO_USD))
        self.volatility = np.array(
            [DAILY_VOLATILITY.get(c, DEFAULT_VOLATILITY) for c in CURRENCIES]
        )
        self.log_rate = self.base.copy()

    def step(self) -> np.ndarray:
        """The next day's rates (the first call returns the base rates)."""
        rates = np.exp(self.log_rate)
        shock = self.volatility * self.rng.standard_normal(len(CURRENCIES))
        self.log_rate = self.log_rate + MEAN_REVERSION * (self.base - self.log_rate) + shock
        return rates
