"""Training Dolly-format models: synthetic instruction data, tokenizers, fine-tuning (full or
LoRA, one process or many through accelerate) and the project's own tiny Dolly recipe.

Nothing here is imported by a test run: ``promptcheck finetune``, ``promptcheck data`` and
``promptcheck tiny`` (:mod:`~promptcheck.train.commands`) mount it on the command line. It loads
and saves checkpoints as the local backend does (:mod:`promptcheck.backends.checkpoint`) and
writes prompts in Dolly's format (:mod:`promptcheck.formats`).
"""
