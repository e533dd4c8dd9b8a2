"""hft-engine: a low-latency spot market-making engine (Binance, OKX, Gate)."""

__version__ = "0.1.0"
