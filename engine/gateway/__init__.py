"""Venue gateways: request signing, transports and the Binance/OKX/Gate adapters.

`engine.gateway` may import `engine.model` and `engine._core`, never anything above them.
"""
