"""Demo traffic for `make run`: a hand-written corpus and the feeder that posts it."""
