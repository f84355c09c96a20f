"""evoquant's torch executor, run as `python -m evoquant_torch --message-fd 3` (see __main__.py):
reads Hugging Face checkpoints one decoder layer at a time, quantizes them to compressed-tensors and
evaluates them for the TypeScript side (science/executor)."""
