"""Code the Kaleidoscope containers run: spec, operations, transform tree, image I/O, storage, steps."""
