"""Prompt formats shared by the local backend, fine-tuning, the server and the judging checks.

The Dolly v2 instruction format is reproduced character for character: a checkpoint fine-tuned by
Dolly's own trainer sees exactly the text it was trained on. Generation ends at ``### End``.
"""

from __future__ import annotations

INTRO_BLURB = (
    "Below is an instruction that describes a task. "
    "Write a response that appropriately completes the request."
)
INSTRUCTION_KEY = "### Instruction:"
INPUT_KEY = "Input:"
RESPONSE_KEY = "### Response:"
END_KEY = "### End"
RESPONSE_KEY_NL = f"{RESPONSE_KEY}\n"

#: Dolly's tokenizer adds these, in this order (ids 50277-50279 on GPT-NeoX-20B's vocabulary).
DOLLY_SPECIAL_TOKENS: tuple[str, ...] = (END_KEY, INSTRUCTION_KEY, RESPONSE_KEY_NL)


def dolly_prompt(instruction: str, context: str | None = None) -> str:
    """The text a Dolly model is given at inference: everything up to the response key, included."""
    if context:
        return (
            f"{INTRO_BLURB}\n\n{INSTRUCTION_KEY}\n{instruction}\n\n"
            f"{INPUT_KEY}\n{context}\n\n{RESPONSE_KEY}\n"
        )
    return f"{INTRO_BLURB}\n\n{INSTRUCTION_KEY}\n{instruction}\n\n{RESPONSE_KEY}\n"


def dolly_training_text(instruction: str, response: str, context: str | None = None) -> str:
    """A training record as Dolly's trainer formats it: the prompt, the response, ``### End``."""
    return f"{dolly_prompt(instruction, context)}{response}\n\n{END_KEY}"


#: The questions a critic is asked about a response (the tiny Dolly critic was trained on all
#: three; ``self_critique`` asks the first). Shared by the judging checks and training.
CRITIQUE_TEMPLATES: tuple[str, ...] = (
    "Here is an instruction and a response.\n\nInstruction: {instruction}\n\nResponse: {response}"
    "\n\n{question} Answer YES or NO.",
    "{question} Answer YES or NO.\n\nInstruction: {instruction}\n\nResponse: {response}",
    "Check the response below.\n\nInstruction: {instruction}\n\nResponse:\n{response}\n\n{question}"
    " Answer with YES or NO only.",
)
GENERIC_QUESTION = "Does the response follow the required format?"


def task_statement(instruction: str) -> str:
    """The instruction up to its first blank line: the task and the format it asks for, without
    the data that follows (the ticket, the message, the text to summarize).

    Reasoned critiques show only this: a format question is answered from the statement and the
    response, and leaving the data out makes a critique task half as long.
    """
    return instruction.strip().split("\n\n", 1)[0].strip()
