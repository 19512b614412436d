"""Drives confab's /v1/embeddings with the official `openai` package.

Usage: openai_embeddings.py BASE_URL API_KEY CHAT_MODEL EMBEDDING_MODEL... Exits non-zero on the
first failed check.
"""

import sys

import openai


def main(base_url: str, api_key: str, chat_model: str, models: list[str]) -> None:
    client = openai.OpenAI(base_url=f"{base_url}/v1", api_key=api_key, max_retries=0)

    listed = [m.id for m in client.models.list()]
    assert all(m in listed for m in models), listed

    texts = ["the first text", "a second, longer text to embed"]
    for model in models:
        # The package asks for base64 when no format is named, and decodes it.
        packed = client.embeddings.create(model=model, input=texts)
        floats = client.embeddings.create(model=model, input=texts, encoding_format="float")
        for answer in (packed, floats):
            assert answer.object == "list", answer
            assert answer.model == model, answer.model
            assert [d.index for d in answer.data] == [0, 1], answer.data
            assert answer.usage.prompt_tokens > 0, answer.usage
            assert answer.usage.total_tokens == answer.usage.prompt_tokens
        for a, b in zip(packed.data, floats.data):
            assert len(a.embedding) == len(b.embedding) > 0
            assert all(abs(x - y) < 1e-6 for x, y in zip(a.embedding, b.embedding)), model
        assert sum(x * x for x in floats.data[0].embedding) > 0.99, model

        one = client.embeddings.create(model=model, input="just one", dimensions=256)
        assert len(one.data) == 1 and len(one.data[0].embedding) == 256, model

    try:
        client.embeddings.create(model=chat_model, input="hi")
        raise AssertionError("a chat model must not embed")
    except openai.BadRequestError as e:
        assert e.status_code == 400 and "chat model" in e.message, e.message

    try:
        client.embeddings.create(model=models[0], input=[])
        raise AssertionError("empty input must fail")
    except openai.BadRequestError as e:
        assert e.status_code == 400

    print("openai embeddings: ok")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:])
