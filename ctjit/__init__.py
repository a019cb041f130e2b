"""The context-threading JIT lives here: K bytecode to native x86-64 code."""
