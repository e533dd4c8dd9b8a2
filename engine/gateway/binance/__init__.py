"""Binance spot: public feed (market streams), and later trading over the WS API."""
