"""Test tools: kasm, the K bytecode assembler."""
