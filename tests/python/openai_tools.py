"""Drives confab's /v1/chat/completions with the official `openai` package: tools (streamed and
not, results sent back), images, response_format, stop, seed and temperature, for models of
every wire format, reading what reached the provider from the mock provider's request log.

Usage: openai_tools.py BASE_URL API_KEY MOCK_URL MODEL=FORMAT... (FORMAT: openai, anthropic,
gemini or bedrock). Exits non-zero on the first failed check, saying which model and check.
"""

import json
import sys

import httpx
import openai

PNG = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
WEATHER = {
    "type": "object",
    "properties": {"city": {"type": "string"}},
    "required": ["city"],
}
TOOLS = [
    {"type": "function", "function": {"name": "get_weather", "description": "Weather now", "parameters": WEATHER}},
    {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object", "properties": {}}}},
]
CALLS = [
    {"name": "get_weather", "arguments": {"city": "Paris"}},
    # No arguments: Anthropic streams none for it, and the client must still get "{}".
    {"name": "get_time", "arguments": {}},
]
QUESTION = [{"role": "user", "content": "Weather and time in Paris?"}]
# Formats that take image URLs (the others need the bytes, fetched by confab), a seed, a JSON schema.
TAKES_URLS = {"openai", "anthropic"}
TAKES_SEED_AND_SCHEMA = {"openai", "gemini"}


class Check:
    """Fails with the model, its format and the check that failed."""

    def __init__(self, model: str, fmt: str):
        self.where = f"{model} ({fmt})"

    def equal(self, what: str, got, want) -> None:
        if got != want:
            raise AssertionError(f"{self.where}: {what}: got {got!r}, want {want!r}")

    def true(self, what: str, condition: bool, detail="") -> None:
        if not condition:
            raise AssertionError(f"{self.where}: {what} {detail}")


class Mock:
    """The mock provider's control API: scenarios and the request log."""

    def __init__(self, url: str):
        self.http = httpx.Client(base_url=f"{url}/_mock", timeout=10)

    def scenario(self, model: str, scenario: dict) -> None:
        self.http.put(f"/scenarios/{model}", json=scenario).raise_for_status()

    def requests(self, model: str) -> list:
        return self.http.get("/requests", params={"model": model}).json()

    def last(self, model: str) -> dict:
        """What the last request to `model` asked, read the same whatever its format."""
        return self.requests(model)[-1].get("chat", {})


def whole_tool_calls(client, mock, check, model):
    mock.scenario(model, {"reply": "Let me check.", "tool_calls": CALLS})
    reply = client.chat.completions.create(model=model, messages=QUESTION, tools=TOOLS, tool_choice="auto")
    choice = reply.choices[0]
    check.equal("finish_reason", choice.finish_reason, "tool_calls")
    check.equal("text before the calls", choice.message.content, "Let me check.")
    calls = [{"name": c.function.name, "arguments": json.loads(c.function.arguments)} for c in choice.message.tool_calls]
    check.equal("tool calls", calls, CALLS)
    check.true("call ids", all(c.id and c.type == "function" for c in choice.message.tool_calls))
    seen = mock.last(model)
    check.equal("tools reaching the provider", [t["name"] for t in seen["tools"]], ["get_weather", "get_time"])
    check.equal("a tool's schema reaching the provider", seen["tools"][0]["parameters"], WEATHER)
    check.equal("a tool's description reaching the provider", seen["tools"][0].get("description"), "Weather now")


def streamed_tool_calls(client, mock, check, model):
    """The calls assembled from the streamed deltas, as an agent loop does."""
    mock.scenario(model, {"reply": "Let me check.", "tool_calls": CALLS})
    stream = client.chat.completions.create(model=model, messages=QUESTION, tools=TOOLS, stream=True)
    text, calls, finish = "", {}, None
    for chunk in stream:
        for choice in chunk.choices:
            text += choice.delta.content or ""
            for delta in choice.delta.tool_calls or []:
                call = calls.setdefault(delta.index, {"id": "", "name": "", "arguments": ""})
                call["id"] += delta.id or ""
                if delta.function:
                    call["name"] += delta.function.name or ""
                    call["arguments"] += delta.function.arguments or ""
            finish = choice.finish_reason or finish
    check.equal("streamed finish_reason", finish, "tool_calls")
    check.equal("streamed text", text, "Let me check.")
    check.equal("streamed call indexes", sorted(calls), [0, 1])
    assembled = [{"name": calls[i]["name"], "arguments": json.loads(calls[i]["arguments"])} for i in (0, 1)]
    check.equal("streamed tool calls", assembled, CALLS)
    check.true("streamed call ids", all(calls[i]["id"] for i in (0, 1)), calls)
    return text, [calls[i] for i in (0, 1)]


def tool_results(client, mock, check, fmt, model, text, calls):
    """The streamed calls and their results sent back in a second request."""
    mock.scenario(model, {"reply": "Sunny, and noon."})
    assistant = {
        "role": "assistant",
        "content": text,
        "tool_calls": [
            {"id": c["id"], "type": "function", "function": {"name": c["name"], "arguments": c["arguments"]}}
            for c in calls
        ],
    }
    results = [
        {"role": "tool", "tool_call_id": calls[0]["id"], "content": "18 C, sunny"},
        {"role": "tool", "tool_call_id": calls[1]["id"], "content": "12:00"},
    ]
    reply = client.chat.completions.create(model=model, messages=QUESTION + [assistant] + results, tools=TOOLS)
    check.equal("the reply after the tool results", reply.choices[0].message.content, "Sunny, and noon.")
    seen = mock.last(model)
    check.equal("tool results reaching the provider", [r["content"] for r in seen["tool_results"]], ["18 C, sunny", "12:00"])
    sent = [{"name": c["name"], "arguments": c["arguments"]} for c in seen["tool_calls"]]
    check.equal("the calls sent back", sent, CALLS)
    if fmt == "gemini":
        # Gemini answers by name, and wants the first call's thought signature back (the
        # mock refuses a Gemini 3 request without it).
        check.equal("result names", [r.get("name") for r in seen["tool_results"]], ["get_weather", "get_time"])
        check.true("the thought signature sent back", bool(seen["tool_calls"][0].get("thought_signature")), seen)
    else:
        ids = [c["id"] for c in calls]
        check.equal("result call ids", [r.get("call_id") for r in seen["tool_results"]], ids)
        check.equal("sent-back call ids", [c.get("id") for c in seen["tool_calls"]], ids)


def images(client, mock, check, fmt, model):
    mock.scenario(model, {"reply": "A pixel."})

    def ask(url):
        content = [{"type": "text", "text": "What is this?"}, {"type": "image_url", "image_url": {"url": url}}]
        return client.chat.completions.create(model=model, messages=[{"role": "user", "content": content}])

    ask(f"data:image/png;base64,{PNG}")
    check.equal("a data: image reaching the provider", mock.last(model)["images"], [{"media_type": "image/png", "base64": PNG}])

    if fmt in TAKES_URLS:
        ask("https://images.example.com/cat.png")
        check.equal("an image URL reaching the provider", mock.last(model)["images"], [{"url": "https://images.example.com/cat.png"}])
        return
    # The bytes would be fetched; an address inside the network is refused before any request.
    before = len(mock.requests(model))
    for url in ("https://127.0.0.1/cat.png", "https://169.254.169.254/latest/meta-data/x.png"):
        try:
            ask(url)
            raise AssertionError(f"{check.where}: the image URL {url} must be refused")
        except openai.BadRequestError as e:
            check.equal(f"status for {url}", e.status_code, 400)
            check.true(f"the refusal of {url} names the image", "image URL" in str(e.message), e.message)
    check.equal("requests reaching the provider for refused images", len(mock.requests(model)), before)


def options(client, mock, check, fmt, model):
    mock.scenario(model, {"reply": '{"city": "Paris"}'})
    client.chat.completions.create(model=model, messages=QUESTION, stop=["END", "\n\n"], temperature=0.5, top_p=0.25)
    seen = mock.last(model)
    check.equal("stop reaching the provider", seen.get("stop"), ["END", "\n\n"])
    check.equal("temperature reaching the provider", seen.get("temperature"), 0.5)
    check.equal("top_p reaching the provider", seen.get("top_p"), 0.25)

    schema = {"type": "json_schema", "json_schema": {"name": "place", "schema": WEATHER, "strict": True}}
    asks = [("seed", {"seed": 7}, "seed", 7), ("response_format", {"response_format": schema}, "json_schema", WEATHER)]
    for field, extra, logged, want in asks:
        if fmt in TAKES_SEED_AND_SCHEMA:
            reply = client.chat.completions.create(model=model, messages=QUESTION, **extra)
            check.equal(f"{field} reaching the provider", mock.last(model).get(logged), want)
            check.equal(f"the reply with {field}", reply.choices[0].message.content, '{"city": "Paris"}')
            continue
        before = len(mock.requests(model))
        try:
            client.chat.completions.create(model=model, messages=QUESTION, **extra)
            raise AssertionError(f"{check.where}: {field} must be refused: the format cannot honour it")
        except openai.BadRequestError as e:
            check.true(f"the refusal of {field} names it", field in str(e.message), e.message)
        check.equal(f"requests reaching the provider with {field}", len(mock.requests(model)), before)


def main(base_url: str, api_key: str, mock_url: str, models: list[str]) -> None:
    client = openai.OpenAI(base_url=f"{base_url}/v1", api_key=api_key, max_retries=0)
    mock = Mock(mock_url)
    for pair in models:
        model, fmt = pair.split("=")
        check = Check(model, fmt)
        whole_tool_calls(client, mock, check, model)
        text, calls = streamed_tool_calls(client, mock, check, model)
        tool_results(client, mock, check, fmt, model, text, calls)
        images(client, mock, check, fmt, model)
        options(client, mock, check, fmt, model)
        print(f"{model} ({fmt}): ok")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:])
