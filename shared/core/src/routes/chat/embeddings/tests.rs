use super::*;
use serde_json::json;

fn parsed(body: serde_json::Value) -> ApiResult<EmbedRequest> {
    let req: EmbeddingRequest =
        serde_json::from_value(body).map_err(|e| ApiError::InvalidRequest(e.to_string()))?;
    req.into_request()
}

fn message(result: ApiResult<EmbedRequest>) -> String {
    result.unwrap_err().to_string()
}

#[test]
fn every_openai_input_shape_is_read() {
    let text = |t: &str| Input::Text(t.into());
    let cases = [
        (json!("a"), vec![text("a")]),
        (json!(["a", "b"]), vec![text("a"), text("b")]),
        (json!([1, 2]), vec![Input::Tokens(vec![1, 2])]),
        (json!([1.0, 2]), vec![Input::Tokens(vec![1, 2])]),
        (json!([[1], [2, 3]]), vec![Input::Tokens(vec![1]), Input::Tokens(vec![2, 3])]),
    ];
    for (input, expected) in cases {
        let req = parsed(json!({"model": "m", "input": input})).unwrap();
        assert_eq!(req.inputs, expected, "{input}");
        assert_eq!(req.encoding, Encoding::Float);
    }
    let req =
        parsed(json!({"model": "m", "input": "a", "encoding_format": "base64", "dimensions": 8})).unwrap();
    assert_eq!((req.encoding, req.dimensions), (Encoding::Base64, Some(8)));
}

#[test]
fn bad_inputs_are_clear_client_errors() {
    let err = |input: serde_json::Value| message(parsed(json!({"model": "m", "input": input})));
    assert_eq!(err(json!([])), "input must not be empty");
    assert_eq!(err(json!(["a", ""])), "input 1 is empty");
    assert_eq!(err(json!([[]])), "input 0 is empty");
    assert!(err(json!({"text": "a"})).contains("input must be a string, an array of strings"));
    assert!(err(json!(vec!["a"; MAX_INPUTS + 1])).contains("at most 2048"));
    assert!(err(json!(["x".repeat(MAX_INPUT_CHARS + 1)])).contains("longer than 50000 characters"));
    let big = vec!["x".repeat(MAX_INPUT_CHARS); MAX_TOTAL_BYTES / MAX_INPUT_CHARS + 1];
    assert!(matches!(parsed(json!({"model": "m", "input": big})), Err(ApiError::TooLarge(_))));
    assert!(err(json!([1.5])).contains("token ids are whole numbers"));
    assert!(err(json!([[-1]])).contains("token ids are whole numbers"));
    let zero = parsed(json!({"model": "m", "input": "a", "dimensions": 0}));
    assert_eq!(message(zero), "dimensions must be at least 1");
    assert!(parsed(json!({"model": "m", "input": "a", "encoding_format": "int8"})).is_err());
}

#[test]
fn lists_have_openais_shape_in_floats_or_base64() {
    let vectors = || Vectors { vectors: vec![vec![1.0, -2.0], vec![0.5]], prompt_tokens: 7 };
    let encoded = |encoding| serde_json::to_value(EmbeddingList::new("emb", vectors(), encoding)).unwrap();
    assert_eq!(
        encoded(Encoding::Float),
        json!({"object": "list", "model": "emb", "usage": {"prompt_tokens": 7, "total_tokens": 7},
               "data": [{"object": "embedding", "index": 0, "embedding": [1.0, -2.0]},
                        {"object": "embedding", "index": 1, "embedding": [0.5]}]})
    );
    let base64 = encoded(Encoding::Base64);
    assert_eq!(base64["data"][0]["embedding"], "AACAPwAAAMA=");
    assert_eq!(base64["data"][1]["embedding"], "AAAAPw==");
}
