"""The strategy room: quoting maths' reference (engine/strategy/quoting_ref.py); the Cython
quoting maths itself is engine/_core/quoting.pyx."""
