//! Tool calls, images and sampling options in every format: what the request log reads out of a
//! request, and replies of tool calls in each format's own shape, streamed and not.

use crate::common;

use common::{anthropic, bedrock, decode_frames, event_json, gemini, openai, read_body, spawn, sse_events};
use confab_mock_provider::{MockHandle, Scenario, Seen, SeenCall, SeenImage, SeenResult, SeenTool, ToolCall};
use serde_json::{Value, json};

const PNG: &str = "iVBORw0KGgo=";

fn weather_schema() -> Value {
    json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]})
}

/// Two calls, the first with arguments long enough to stream in several fragments.
fn calls() -> Scenario {
    Scenario::reply("Checking.").with_tool_calls([
        ToolCall::new("get_weather", json!({"city": "Paris", "unit": "celsius"})),
        ToolCall::new("get_time", json!({})),
    ])
}

/// What every format's request below carries, in the log's terms.
fn expected(image: SeenImage, call_id: Option<&str>, result_name: Option<&str>) -> Seen {
    Seen {
        tools: vec![SeenTool {
            name: "get_weather".into(),
            description: Some("Weather now".into()),
            parameters: weather_schema(),
        }],
        tool_calls: vec![SeenCall {
            id: call_id.map(Into::into),
            name: "get_weather".into(),
            arguments: json!({"city": "Oslo"}),
            thought_signature: None,
        }],
        tool_results: vec![SeenResult {
            call_id: call_id.map(Into::into),
            name: result_name.map(Into::into),
            content: "-3 C".into(),
        }],
        images: vec![image],
        stop: vec!["END".into()],
        temperature: Some(0.5),
        top_p: Some(0.25),
        ..Seen::default()
    }
}

fn png() -> SeenImage {
    SeenImage { media_type: Some("image/png".into()), base64: Some(PNG.into()), url: None }
}

fn seen(mock: &MockHandle, model: &str) -> Seen {
    mock.requests(model).last().and_then(|r| r.chat.clone()).expect("a parsed chat request")
}

#[tokio::test]
async fn openai_requests_and_tool_call_replies() {
    let mock = spawn().await;
    mock.set_scenario("gpt", calls());
    let body = |stream: bool| {
        json!({
            "model": "gpt", "stream": stream, "stop": "END", "temperature": 0.5, "top_p": 0.25, "seed": 7,
            "response_format": {"type": "json_schema", "json_schema": {"name": "w", "schema": weather_schema()}},
            "tools": [{"type": "function", "function":
                {"name": "get_weather", "description": "Weather now", "parameters": weather_schema()}}],
            "messages": [
                {"role": "user", "content": [{"type": "text", "text": "Weather?"},
                    {"type": "image_url", "image_url": {"url": format!("data:image/png;base64,{PNG}")}},
                    {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}]},
                {"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function",
                    "function": {"name": "get_weather", "arguments": "{\"city\":\"Oslo\"}"}}]},
                {"role": "tool", "tool_call_id": "call_1", "content": "-3 C"},
            ],
        })
    };
    let whole: Value = openai(&mock, body(false)).await.json().await.unwrap();
    let mut want = expected(png(), Some("call_1"), None);
    want.images.push(SeenImage { url: Some("https://example.com/cat.png".into()), ..SeenImage::default() });
    want.seed = Some(7);
    want.json_schema = Some(weather_schema());
    assert_eq!(seen(&mock, "gpt"), want);
    let choice = &whole["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls");
    assert_eq!(choice["message"]["content"], "Checking.");
    let call = &choice["message"]["tool_calls"][0];
    assert_eq!((&call["type"], &call["function"]["name"]), (&json!("function"), &json!("get_weather")));
    assert_eq!(call["function"]["arguments"], r#"{"city":"Paris","unit":"celsius"}"#);
    assert_eq!(choice["message"]["tool_calls"][1]["function"]["arguments"], "{}");

    let events = sse_events(openai(&mock, body(true)).await).await;
    let (done, events) = events.split_last().unwrap();
    assert_eq!(done.data, "[DONE]");
    let chunks = event_json(events);
    let deltas: Vec<&Value> =
        chunks.iter().flat_map(|c| c["choices"][0]["delta"]["tool_calls"].as_array()).flatten().collect();
    let first = deltas[0];
    assert_eq!(
        (&first["index"], &first["function"]["name"], &first["function"]["arguments"]),
        (&json!(0), &json!("get_weather"), &json!(""))
    );
    assert!(first["id"].as_str().unwrap().starts_with("call_"));
    let arguments = |index: u64| -> String {
        deltas
            .iter()
            .filter(|d| d["index"] == index)
            .filter_map(|d| d["function"]["arguments"].as_str())
            .collect()
    };
    assert_eq!(arguments(0), r#"{"city":"Paris","unit":"celsius"}"#);
    assert!(deltas.iter().filter(|d| d["index"] == 0).count() > 2, "arguments come in fragments");
    assert_eq!(arguments(1), "{}");
    assert_eq!(chunks.last().unwrap()["choices"][0]["finish_reason"], "tool_calls");
}

#[tokio::test]
async fn anthropic_requests_and_tool_use_replies() {
    let mock = spawn().await;
    mock.set_scenario("claude", calls());
    let body = |stream: bool| {
        json!({
            "model": "claude", "max_tokens": 100, "stream": stream, "stop_sequences": ["END"],
            "temperature": 0.5, "top_p": 0.25,
            "tools": [{"name": "get_weather", "description": "Weather now", "input_schema": weather_schema()}],
            "messages": [
                {"role": "user", "content": [{"type": "text", "text": "Weather?"},
                    {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}}]},
                {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "get_weather",
                    "input": {"city": "Oslo"}}]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "-3 C"}]},
            ],
        })
    };
    let whole: Value = anthropic(&mock, body(false)).await.json().await.unwrap();
    assert_eq!(seen(&mock, "claude"), expected(png(), Some("toolu_1"), None));
    assert_eq!(whole["stop_reason"], "tool_use");
    let content = whole["content"].as_array().unwrap();
    assert_eq!(content[0], json!({"type": "text", "text": "Checking."}));
    assert_eq!(
        (&content[1]["type"], &content[1]["input"]),
        (&json!("tool_use"), &json!({"city": "Paris", "unit": "celsius"}))
    );
    assert_eq!(content[2]["name"], "get_time");

    let events = sse_events(anthropic(&mock, body(true)).await).await;
    let data = event_json(&events);
    let starts: Vec<&Value> = data.iter().filter(|d| d["type"] == "content_block_start").collect();
    assert_eq!(starts[0]["content_block"]["type"], "text");
    assert_eq!((&starts[1]["index"], &starts[1]["content_block"]["type"]), (&json!(1), &json!("tool_use")));
    assert_eq!(starts[1]["content_block"]["input"], json!({}));
    assert_eq!((&starts[2]["index"], &starts[2]["content_block"]["name"]), (&json!(2), &json!("get_time")));
    let input = |index: u64| -> String {
        let deltas = data.iter().filter(|d| d["index"] == index && d["delta"]["type"] == "input_json_delta");
        deltas.map(|d| d["delta"]["partial_json"].as_str().unwrap()).collect()
    };
    assert_eq!(input(1), r#"{"city":"Paris","unit":"celsius"}"#);
    assert_eq!(input(2), "", "a call without arguments has no input");
    let stop = data.iter().find(|d| d["type"] == "message_delta").unwrap();
    assert_eq!(stop["delta"]["stop_reason"], "tool_use");
    assert_eq!(events.last().unwrap().event, "message_stop");
}

#[tokio::test]
async fn gemini_requests_and_function_call_replies() {
    let mock = spawn().await;
    mock.set_scenario("gemini-2.5-flash", calls());
    let body = json!({
        "tools": [{"functionDeclarations": [{"name": "get_weather", "description": "Weather now",
            "parametersJsonSchema": weather_schema()}]}],
        "generationConfig": {"stopSequences": ["END"], "temperature": 0.5, "topP": 0.25, "seed": 7,
            "responseMimeType": "application/json", "responseJsonSchema": weather_schema()},
        "contents": [
            {"role": "user", "parts": [{"text": "Weather?"}, {"inlineData": {"mimeType": "image/png", "data": PNG}}]},
            {"role": "model", "parts": [{"functionCall": {"name": "get_weather", "args": {"city": "Oslo"}}}]},
            {"role": "user", "parts": [{"functionResponse": {"name": "get_weather", "response": {"content": "-3 C"}}}]},
        ],
    });
    let whole: Value =
        gemini(&mock, "gemini-2.5-flash", "generateContent", body.clone()).await.json().await.unwrap();
    let mut want = expected(png(), None, Some("get_weather"));
    want.seed = Some(7);
    want.json_schema = Some(weather_schema());
    assert_eq!(seen(&mock, "gemini-2.5-flash"), want);
    let candidate = &whole["candidates"][0];
    assert_eq!(candidate["finishReason"], "STOP");
    let parts = candidate["content"]["parts"].as_array().unwrap();
    assert_eq!(parts[0], json!({"text": "Checking."}));
    assert_eq!(
        parts[1]["functionCall"],
        json!({"name": "get_weather", "args": {"city": "Paris", "unit": "celsius"}})
    );
    assert!(parts[1]["thoughtSignature"].is_string(), "the first call carries the signature");
    assert_eq!(parts[2], json!({"functionCall": {"name": "get_time", "args": {}}}));

    let response = gemini(&mock, "gemini-2.5-flash", "streamGenerateContent?alt=sse", body).await;
    let chunks = event_json(&sse_events(response).await);
    let last = &chunks.last().unwrap()["candidates"][0];
    assert_eq!(last["finishReason"], "STOP");
    assert_eq!(last["content"]["parts"][1]["functionCall"]["name"], "get_time");
    assert!(chunks[..chunks.len() - 1].iter().all(|c| c["candidates"][0]["finishReason"].is_null()));
}

#[tokio::test]
async fn gemini_3_wants_its_thought_signature_back() {
    let mock = spawn().await;
    let turn = |signature: Option<&str>| {
        let mut call = json!({"functionCall": {"name": "get_weather", "args": {"city": "Oslo"}}});
        if let Some(signature) = signature {
            call["thoughtSignature"] = json!(signature);
        }
        json!({"contents": [
            {"role": "user", "parts": [{"text": "Weather?"}]},
            {"role": "model", "parts": [call]},
            {"role": "user", "parts": [{"functionResponse": {"name": "get_weather", "response": {"content": "-3 C"}}}]},
        ]})
    };
    let refused = gemini(&mock, "gemini-3-flash", "generateContent", turn(None)).await;
    assert_eq!(refused.status(), 400);
    let error: Value = refused.json().await.unwrap();
    assert!(error["error"]["message"].as_str().unwrap().contains("thought_signature"), "{error}");
    let accepted = gemini(&mock, "gemini-3-flash", "generateContent", turn(Some("c2ln"))).await;
    assert_eq!(accepted.status(), 200);
    assert_eq!(seen(&mock, "gemini-3-flash").tool_calls[0].thought_signature.as_deref(), Some("c2ln"));
    let older = gemini(&mock, "gemini-2.5-flash", "generateContent", turn(None)).await;
    assert_eq!(older.status(), 200);
}

#[tokio::test]
async fn bedrock_requests_and_tool_use_replies() {
    const MODEL: &str = "anthropic.claude-3-haiku-20240307-v1:0";
    let mock = spawn().await;
    mock.set_scenario(MODEL, calls());
    let body = json!({
        "inferenceConfig": {"maxTokens": 100, "stopSequences": ["END"], "temperature": 0.5, "topP": 0.25},
        "toolConfig": {"tools": [{"toolSpec": {"name": "get_weather", "description": "Weather now",
            "inputSchema": {"json": weather_schema()}}}]},
        "messages": [
            {"role": "user", "content": [{"text": "Weather?"}, {"image": {"format": "png", "source": {"bytes": PNG}}}]},
            {"role": "assistant", "content": [{"toolUse": {"toolUseId": "tooluse_1", "name": "get_weather",
                "input": {"city": "Oslo"}}}]},
            {"role": "user", "content": [{"toolResult": {"toolUseId": "tooluse_1", "content": [{"text": "-3 C"}]}}]},
        ],
    });
    let whole: Value = bedrock(&mock, MODEL, "converse", body.clone()).await.json().await.unwrap();
    assert_eq!(seen(&mock, MODEL), expected(png(), Some("tooluse_1"), None));
    assert_eq!(whole["stopReason"], "tool_use");
    let content = whole["output"]["message"]["content"].as_array().unwrap();
    assert_eq!(content[0], json!({"text": "Checking."}));
    assert_eq!(content[1]["toolUse"]["input"], json!({"city": "Paris", "unit": "celsius"}));
    assert_eq!(content[2]["toolUse"]["name"], "get_time");

    let (bytes, failed) = read_body(bedrock(&mock, MODEL, "converse-stream", body).await).await;
    assert!(!failed);
    let (frames, _) = decode_frames(&bytes);
    let of = |kind: &str| -> Vec<&Value> {
        frames.iter().filter(|f| f.header(":event-type") == kind).map(|f| &f.payload).collect()
    };
    let starts = of("contentBlockStart");
    assert_eq!(starts.len(), 2, "text blocks have no start event");
    assert_eq!(
        (&starts[0]["contentBlockIndex"], &starts[0]["start"]["toolUse"]["name"]),
        (&json!(1), &json!("get_weather"))
    );
    let input = |index: u64| -> String {
        let deltas = of("contentBlockDelta").into_iter().filter(|d| d["contentBlockIndex"] == index);
        deltas.filter_map(|d| d["delta"]["toolUse"]["input"].as_str()).collect()
    };
    assert_eq!(input(1), r#"{"city":"Paris","unit":"celsius"}"#);
    assert_eq!(input(2), "{}");
    assert_eq!(of("contentBlockStop").len(), 3);
    assert_eq!(of("messageStop")[0]["stopReason"], "tool_use");
}

#[tokio::test]
async fn a_reply_of_calls_alone_has_no_text_block() {
    let mock = spawn().await;
    mock.set_scenario("claude", Scenario::default().with_tool_calls([ToolCall::new("now", json!({}))]));
    let body = json!({"model": "claude", "max_tokens": 10, "stream": true,
        "messages": [{"role": "user", "content": "time?"}]});
    let data = event_json(&sse_events(anthropic(&mock, body).await).await);
    let starts: Vec<&Value> = data.iter().filter(|d| d["type"] == "content_block_start").collect();
    assert_eq!(starts.len(), 1);
    assert_eq!((&starts[0]["index"], &starts[0]["content_block"]["type"]), (&json!(0), &json!("tool_use")));
    let whole: Value =
        openai(&mock, json!({"model": "claude", "messages": [{"role": "user", "content": "time?"}]}))
            .await
            .json()
            .await
            .unwrap();
    assert_eq!(whole["choices"][0]["message"]["content"], Value::Null);
}
