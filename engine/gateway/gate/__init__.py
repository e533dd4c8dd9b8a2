"""Gate v4 spot: public feed (order-book updates, trades, book ticker)."""
