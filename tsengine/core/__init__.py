"""Engine internals: input normalisation, series rings, sealed chunks, reads."""
