"""Market data: feed handlers, snapshot/diff sync, recorder, replay."""
