"""The simulated customer of the τ-bench eval: an LLM playing the user described by a task's ``instruction``.

The prompt is τ-bench's user-simulation prompt (one message at a time, reveal only what the current step needs,
never invent what the instruction does not say, ``###STOP###`` when the goal is reached or cannot be). The model is
``shared.serving.get_chat_model()``: the local Qwen 0.5B by default, any OpenAI-compatible server (vLLM) with
``SERVING__BACKEND=openai SERVING__OPENAI_BASE_URL=... SERVING__OPENAI_MODEL=...`` — nothing here changes.

Every conversation is seeded (``ChatRequest.seed`` + a sampling temperature), so a trial is reproducible on the
local backend and trials of one task differ only by their seed: that is what pass^k measures.

What code adds around the model, so a small model stays an honest customer (none of it helps the agent):

- the role label it puts first ("Customer:", even "Agent:") is stripped, and a later label (it goes on writing
  both sides) cuts the text there; one message is capped at ``max_chars``;
- an id it makes up (an order ``#W...``, a long digit string, an e-mail) that is neither in the instruction nor
  said by the agent is refused: it samples again (up to three draws), then the id is replaced by "I don't
  remember";
- the dialogue is shown as a transcript ("Agent: ... / Customer: ...") with one request to write the customer's
  next line (``framing="transcript"``; τ-bench's role-swapped chat is ``framing="chat"``): the 0.5B model,
  given chat roles, answers as the assistant it was trained to be; a line in the agent's voice ("how can I
  help", "as an AI") is resampled;
- an empty answer, a stop mark anywhere in a message (``###STOP###``, also as the small model spells it:
  ``### STOP###``), or ``max_turns`` user messages end the conversation;
- a stop (or nothing) as the *opening* message, before the agent could do anything, is resampled, then
  replaced by a neutral ``OPENER`` that reveals nothing of the instruction (the 0.5B model often "ends" a
  conversation it has not started);
- a stop right after the agent asked a question or for a yes/no is resampled (up to three draws; then the stop
  stands): both local models answer "please give your e-mail" with ``###STOP###`` about half the time.

Limits (why a failed task is not always the agent's fault): a 0.5B model often loses the thread over a long
conversation, repeats itself, answers a yes/no question with something else, says ``###STOP###`` too early (before
confirming) or never, reveals the whole instruction in the first message, and plays the personality traits of
the instruction poorly. Tasks whose instruction asks the user to push back ("insist on a coupon") or to change
their mind mid-way are the hardest for it. A stronger model by configuration removes most of this; the eval's
numbers with the default model measure the agent *and* this simulator together.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal, Protocol

from shared.serving.base import ChatModel
from shared.serving.types import ChatMessage, ChatRequest

STOP = "###STOP###"
Framing = Literal["transcript", "chat"]
GREETING = "Hi! How can I help you today?"

# τ-bench's user simulation prompt (tau_bench/envs/user.py, LLMUserSimulationEnv.build_system_prompt).
SYSTEM_PROMPT = """You are a user interacting with an agent.

Instruction: {instruction}

Rules:
- Just generate one line at a time to simulate the user's message.
- Do not give away all the instruction at once. Only provide the information that is necessary for the current step.
- Do not hallucinate information that is not provided in the instruction. For example, if the agent asks for the \
order id but it is not mentioned in the instruction, do not make up an order id, just say you do not remember or \
have it.
- If the instruction goal is satisified, generate '###STOP###' as a standalone message without anything else to \
end the conversation.
- Do not repeat the exact instruction in the conversation. Instead, use your own words to convey the same \
information.
- Try to make the conversation as natural as possible, and stick to the personalities in the instruction."""

LEADING_ROLE = re.compile(
    r"^\s*(?:\*\*)?(?:user|customer|me|you|human|agent|assistant)\s*(?:\*\*)?\s*:\s*", re.IGNORECASE
)
OTHER_SIDE = re.compile(
    r"\n?\s*(?:\*\*)?(?:agent|assistant|support|representative|system|customer|user)\s*(?:\*\*)?\s*:", re.I
)
STOP_MARK = re.compile(r"#+\s*STOP\s*#*", re.IGNORECASE)  # small models write "### STOP###", "#STOP"
OPENER = "Hi, I need some help with an order."
# Lines where the model speaks as the support agent instead of the customer (role confusion of small models).
AGENT_VOICE = re.compile(
    r"\b(?:how (?:can|may) I (?:help|assist)|as an ai|language model|I'?m here to help|I can help you with|"
    r"please provide (?:me with )?your|what (?:can|may) I do for you|thank you for contacting)\b",
    re.IGNORECASE,
)
CUSTOMER_ROLE = """

You are the CUSTOMER in this conversation, never the agent. Write only the customer's next message, in the \
first person, short (one or two sentences)."""
NEXT_LINE = "Write the customer's next message now."
MAX_CONTEXT_LINES = 16
IDS = re.compile(r"#\s?W\d+|\b\d{6,}\b|[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}", re.IGNORECASE)


class UserConversation(Protocol):
    """One simulated customer: ``first()`` opens, ``reply(agent_text)`` answers; ``None`` = the user is done."""

    def first(self) -> str | None: ...

    def reply(self, agent_text: str) -> str | None: ...


class UserSimulator(Protocol):
    """The port the eval drives: a new conversation per task × trial."""

    model_id: str

    def conversation(self, instruction: str, seed: int) -> UserConversation: ...


ASKS = re.compile(r"\(yes/no\)|\bplease (?:give|provide|tell|send|share|confirm|choose|pick)\b", re.IGNORECASE)


def _asks(agent_text: str) -> bool:
    """The agent's message waits for an answer: a question or a confirmation request."""
    return "?" in agent_text or bool(ASKS.search(agent_text))


def _norm_id(text: str) -> str:
    return re.sub(r"\s+", "", text).lower()


def clean(text: str, max_chars: int) -> str:
    """One line of the user's side: a leading role label gone (small models label their line "Customer:" or even
    "Agent:"), anything after a later label or an echo of the request cut, length capped."""
    text = (text or "").strip()
    text = LEADING_ROLE.sub("", text)
    text = OTHER_SIDE.split(text, maxsplit=1)[0]
    text = text.split(NEXT_LINE[:24], 1)[0].strip().strip('"').strip()
    if len(text) > max_chars:
        cut = text[:max_chars]
        text = cut[: cut.rfind(" ")] if " " in cut else cut
    return text


@dataclass
class LLMConversation:
    """A seeded conversation with the chat model playing the user (see the module docstring for the rules)."""

    chat: ChatModel
    instruction: str
    seed: int
    temperature: float = 0.7
    max_tokens: int = 80
    max_chars: int = 400
    max_turns: int = 14
    framing: Framing = "transcript"
    history: list[tuple[str, str]] = field(default_factory=list)  # ("agent" | "customer", text)
    known_ids: set[str] = field(default_factory=set)
    turns: int = 0
    stopped: bool = False

    def __post_init__(self) -> None:
        self.known_ids |= {_norm_id(m) for m in IDS.findall(self.instruction)}

    def first(self) -> str | None:
        return self.reply(GREETING)

    def reply(self, agent_text: str) -> str | None:
        if self.stopped or self.turns >= self.max_turns:
            self.stopped = True
            return None
        self.known_ids |= {_norm_id(m) for m in IDS.findall(agent_text or "")}
        self.history.append(("agent", agent_text or "..."))
        base = self.seed * 1000 + self.turns
        text = ""
        # a stop right after the agent asked something is premature (small models stop instead of answering)
        asked = self.turns == 0 or _asks(agent_text or "")
        for attempt in range(3):  # resample a reply that plays the agent, invents an id, or stops too early
            text = self._generate(base + 100 * attempt)
            if not (self._invented(text) or AGENT_VOICE.search(text) or (asked and self._stops(text))):
                break
        for ident in self._invented(text):
            text = re.sub(re.escape(ident), "I don't remember", text)
        if self.turns == 0 and (self._stops(text) or AGENT_VOICE.search(text)):
            text = OPENER
        self.turns += 1
        if self._stops(text):
            self.stopped = True
            return None
        self.history.append(("customer", text))
        return text

    @staticmethod
    def _stops(text: str) -> bool:
        return not text or bool(STOP_MARK.search(text))

    def request(self, seed: int) -> ChatRequest:
        """``transcript`` framing (default): the dialogue as text, one instruction to write the customer's next
        line — a small model told "you are the assistant" by the chat roles otherwise answers as the agent.
        ``chat`` framing: τ-bench's own (agent turns as ``user`` messages, the customer's as ``assistant``)."""
        system = SYSTEM_PROMPT.format(instruction=self.instruction)
        if self.framing == "chat":
            messages = [
                ChatMessage.user(text) if who == "agent" else ChatMessage.assistant(text) for who, text in self.history
            ]
        else:
            recent = self.history[-MAX_CONTEXT_LINES:]
            lines = "\n".join(f"{'Agent' if who == 'agent' else 'Customer'}: {text}" for who, text in recent)
            system += CUSTOMER_ROLE
            messages = [ChatMessage.user(f"Conversation so far:\n{lines}\n\n{NEXT_LINE}")]
        return ChatRequest(
            system=system, messages=messages, temperature=self.temperature, seed=seed, max_tokens=self.max_tokens
        )

    def _generate(self, seed: int) -> str:
        return clean(self.chat.chat(self.request(seed)).text, self.max_chars)

    def _invented(self, text: str) -> list[str]:
        return [m for m in IDS.findall(text) if _norm_id(m) not in self.known_ids]


@dataclass
class LLMUserSimulator:
    """Builds :class:`LLMConversation` s on one chat model (default: the platform's configured one)."""

    chat: ChatModel | None = None
    temperature: float = 0.7
    max_turns: int = 14
    max_chars: int = 400
    framing: Framing = "transcript"

    def __post_init__(self) -> None:
        if self.chat is None:
            from shared.serving.factory import get_chat_model

            self.chat = get_chat_model()

    @property
    def model_id(self) -> str:
        return f"{getattr(self.chat, 'backend', '?')}:{getattr(self.chat, 'model', '?')}"

    def conversation(self, instruction: str, seed: int) -> LLMConversation:
        assert self.chat is not None
        return LLMConversation(
            self.chat,
            instruction,
            seed,
            temperature=self.temperature,
            max_turns=self.max_turns,
            max_chars=self.max_chars,
            framing=self.framing,
        )
