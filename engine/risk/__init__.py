"""Risk: the pre-trade checks and the trading state machine (engine/_core/risk.pyx, reference
semantics in engine/risk/risk_ref.py). Nothing is imported here, so that the Cython module can
import the reference's limit types without a cycle."""
