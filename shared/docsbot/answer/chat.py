"""The chat model adapter: OpenAI chat completions, or any OpenAI-compatible endpoint.

`OpenAIChat` wraps the official `openai` client: the base URL makes self-hosted models work (vLLM,
Ollama, LiteLLM...), the client retries 429/5xx/connection errors with backoff (honouring Retry-After),
and every request has a timeout. Streaming hands each text delta to a callback as it arrives. Whatever
goes wrong surfaces as one `ChatError` whose message can be shown to a user; the API key never appears
in it. Faults worth another attempt later (timeout, 429, 5xx, no connection, and a reply cut off: a stream
that ends with no finish reason) are a `TransientChatError`, which is also a `TransientError`: a cut-off
reply is never returned as if it were complete. The `openai` SDK is imported only by `OpenAIChat`, never at module load,
so the answering core imports this module's shapes without it. Under a deadline (`docsbot.answer.deadline`: a
respond attempt's), each try's timeout and the number of tries shrink to the time left, and no try starts with
less than `MIN_TRY_S` left: the call ends before the deadline.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

from docsbot.answer.deadline import Deadline, current
from docsbot.errors import TransientError

if TYPE_CHECKING:
    import openai

MessageRole = Literal["system", "user", "assistant"]

# Context windows of common models (tokens); an unknown (self-hosted) model gets a conservative default
# unless DOCSBOT_CHAT_CONTEXT_TOKENS says otherwise.
CONTEXT_WINDOWS: dict[str, int] = {
    "gpt-5": 400_000,
    "gpt-4.1": 1_047_576,
    "gpt-4o": 128_000,
    "gpt-4-turbo": 128_000,
    "gpt-3.5-turbo": 16_385,
    "o3": 200_000,
    "o4-mini": 200_000,
}
UNKNOWN_MODEL_CONTEXT = 8_192
MIN_TRY_S = 1.0  # under a deadline, a try with less time than this left is not started


def context_window(model: str) -> int:
    """The context window of `model`, matched by the longest known name prefix."""
    matches = [name for name in CONTEXT_WINDOWS if model == name or model.startswith(name + "-")]
    return CONTEXT_WINDOWS[max(matches, key=len)] if matches else UNKNOWN_MODEL_CONTEXT


@dataclass(frozen=True)
class ChatMessage:
    role: MessageRole
    content: str

    def as_dict(self) -> dict[str, str]:
        return {"role": self.role, "content": self.content}


@dataclass(frozen=True)
class ChatResult:
    text: str
    model: str
    usage: dict[str, int] = field(default_factory=dict)
    finish_reason: str | None = None


class ChatError(RuntimeError):
    """The model could not answer. `kind` is one of: timeout, rate_limited, unavailable, rejected, empty,
    cut_off."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class TransientChatError(ChatError, TransientError):
    """The model timed out, was rate limited or unavailable once the client's retries ran out."""


class ChatModel(Protocol):
    model: str

    def complete(
        self,
        messages: Sequence[ChatMessage],
        *,
        max_tokens: int,
        on_delta: Callable[[str], None] | None = None,
    ) -> ChatResult:
        """The model's reply; with `on_delta`, streamed and each text piece passed on as it arrives."""
        ...


class OpenAIChat:
    """Chat completions through the official client (retries and timeouts are the client's own)."""

    def __init__(
        self,
        model: str,
        *,
        api_key: str,
        base_url: str | None = None,
        timeout_s: float = 60.0,
        max_retries: int = 2,
        temperature: float | None = 0.2,
        client: openai.OpenAI | None = None,
    ) -> None:
        import openai

        self.model = model
        # Reasoning models accept only their default temperature.
        self.temperature = None if _is_reasoning_model(model) else temperature
        # OpenAI's own API wants max_completion_tokens; many compatible servers only know max_tokens.
        self.max_tokens_param = "max_completion_tokens" if _is_openai(base_url) else "max_tokens"
        self.client = client or openai.OpenAI(
            api_key=api_key, base_url=base_url, timeout=timeout_s, max_retries=max_retries
        )
        given = self.client.timeout  # a number, or an httpx.Timeout whose read timeout is what a stall hits
        self.timeout_s = (
            float(given) if isinstance(given, int | float) else float(getattr(given, "read", None) or timeout_s)
        )
        self.max_retries = self.client.max_retries

    def complete(
        self,
        messages: Sequence[ChatMessage],
        *,
        max_tokens: int,
        on_delta: Callable[[str], None] | None = None,
    ) -> ChatResult:

        kwargs: dict[str, Any] = {
            "model": self.model,
            "messages": [m.as_dict() for m in messages],
            self.max_tokens_param: max_tokens,
        }
        if self.temperature is not None:
            kwargs["temperature"] = self.temperature
        deadline = current()
        if deadline is not None:
            return self._within(deadline, kwargs, on_delta)
        return self._call(self.client, kwargs, on_delta)

    def _within(self, deadline: Deadline, kwargs: dict[str, Any], on_delta: Callable[[str], None] | None) -> ChatResult:
        """Tries (ours, not the client's) that each fit in the time left, with backoff only while time remains."""
        for attempt in range(self.max_retries + 1):
            left = deadline.remaining()
            if left < MIN_TRY_S:
                raise TransientChatError("timeout", "the language model did not answer in time")
            client = self.client.with_options(timeout=min(self.timeout_s, left), max_retries=0)
            try:
                return self._call(client, kwargs, on_delta)
            except TransientChatError as error:
                wait = _backoff_s(attempt, error)
                last = attempt == self.max_retries or error.kind == "cut_off"  # the client never retries a cut-off
                if last or deadline.remaining() - wait < MIN_TRY_S:
                    raise
                deadline.sleep(wait)
        raise AssertionError("unreachable")  # the last try returns or raises

    def _call(
        self, client: openai.OpenAI, kwargs: dict[str, Any], on_delta: Callable[[str], None] | None
    ) -> ChatResult:
        import openai

        try:
            if on_delta is None:
                return self._complete(client, kwargs)
            return self._stream(client, kwargs, on_delta)
        except openai.APITimeoutError as error:
            raise TransientChatError("timeout", "the language model did not answer in time") from error
        except openai.RateLimitError as error:
            raise TransientChatError("rate_limited", "the language model is rate limited right now") from error
        except openai.APIConnectionError as error:
            raise TransientChatError("unavailable", "the language model could not be reached") from error
        except openai.APIStatusError as error:
            if error.status_code >= 500:
                message = f"the language model failed (HTTP {error.status_code})"
                raise TransientChatError("unavailable", message) from error
            raise ChatError("rejected", f"the language model refused the request (HTTP {error.status_code})") from None

    def _complete(self, client: openai.OpenAI, kwargs: dict[str, Any]) -> ChatResult:
        response = client.chat.completions.create(**kwargs)
        if not response.choices or not response.choices[0].message.content:
            raise ChatError("empty", "the language model returned an empty answer")
        choice = response.choices[0]
        if not choice.finish_reason:
            raise TransientChatError("cut_off", "the language model's reply was cut off")
        return ChatResult(
            text=choice.message.content or "",
            model=response.model,
            usage=_usage(response.usage),
            finish_reason=choice.finish_reason,
        )

    def _stream(self, client: openai.OpenAI, kwargs: dict[str, Any], on_delta: Callable[[str], None]) -> ChatResult:
        stream = client.chat.completions.create(**kwargs, stream=True, stream_options={"include_usage": True})
        pieces: list[str] = []
        usage: dict[str, int] = {}
        model = self.model
        finish: str | None = None
        with stream:
            for chunk in stream:
                model = chunk.model or model
                if chunk.usage is not None:
                    usage = _usage(chunk.usage)
                for choice in chunk.choices:
                    if choice.delta.content:
                        pieces.append(choice.delta.content)
                        on_delta(choice.delta.content)
                    finish = choice.finish_reason or finish
        text = "".join(pieces)
        if not text.strip():
            raise ChatError("empty", "the language model returned an empty answer")
        if finish is None:
            # The connection ended before the model said it was done: the text may stop mid-sentence.
            raise TransientChatError("cut_off", "the language model's reply was cut off")
        return ChatResult(text=text, model=model, usage=usage, finish_reason=finish)


def _backoff_s(attempt: int, error: ChatError) -> float:
    """The wait before the next try: the server's Retry-After when it sent one, else 0.5 s doubling to 8 s."""
    response = getattr(error.__cause__, "response", None)
    headers = getattr(response, "headers", None) or {}
    for name, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        try:
            return max(0.0, float(str(headers.get(name))) / scale)
        except ValueError:  # absent ("None") or not a number (an HTTP date: use the backoff)
            continue
    return float(min(8.0, 0.5 * 2**attempt))


def _usage(usage: Any) -> dict[str, int]:
    if usage is None:
        return {}
    return {
        "prompt_tokens": int(usage.prompt_tokens or 0),
        "completion_tokens": int(usage.completion_tokens or 0),
    }


def _is_reasoning_model(model: str) -> bool:
    return model.startswith(("gpt-5", "o1", "o3", "o4"))


def _is_openai(base_url: str | None) -> bool:
    return base_url is None or "api.openai.com" in base_url
