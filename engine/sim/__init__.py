"""Local exchange simulator: a venue-neutral matching core (`matching`, `accounts`, `errors`)
that the Binance, OKX and Gate protocol layers drive on loopback. Deterministic: time comes
in as `ts_ns` arguments and nothing reads a clock or an unseeded random source."""
