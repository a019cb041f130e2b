"""ktc: the compiler of the K language (parser, checker, emitter, image)."""
