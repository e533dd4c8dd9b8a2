"""The venues' wire formats and signing payloads, shared by the adapters in gateway/ and the
simulator in sim/; imports nothing above model/ and _core/.

Both sides speak the same bytes: an adapter signs with the payload builder that the simulator
verifies with, so the two cannot drift apart. Because of that, a canonicalisation bug in a
builder would pass both sides unseen; `tests/test_wire_examples.py` checks every builder
against the venues' own published worked examples (or, where none is published, against the
documented rule written out independently).

Modules: `credentials` (API key pairs that never print), `mac` (keyed HMAC and constant-time
comparison), `timestamps` (request-timestamp windows), and one `<venue>_signing` module per
venue (payload builders, sign/verify, timestamp checks).
"""
