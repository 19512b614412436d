//! The control API under `/_mock/`: scenarios per model and the request log.

use http::{Method, Response, StatusCode};
use serde::Serialize;
use serde_json::json;

use crate::dialect::{Body, RawRequest, full, json_response, parse_json};
use crate::scenario::Scenario;
use crate::server::{State, decode_segment, plain_error};

/// Serves `/_mock/...`.
pub(crate) fn handle(state: &State, request: &RawRequest) -> Response<Body> {
    let path = request.uri.path().trim_start_matches("/_mock");
    let model = request.query("model");
    match (&request.method, path) {
        (&Method::GET, "/health") => ok(&json!({"status": "ok"})),
        (&Method::GET, "/scenarios") => ok(&state.scenarios.all()),
        (&Method::DELETE, "/scenarios") => {
            state.scenarios.clear();
            no_content()
        }
        (&Method::GET, "/requests") => ok(&state.log.list(model.as_deref())),
        (&Method::DELETE, "/requests") => {
            state.log.clear(model.as_deref());
            no_content()
        }
        (method, path) => match path.strip_prefix("/scenarios/") {
            Some(model) if !model.is_empty() => {
                scenario(state, method, &decode_segment(model), &request.body)
            }
            _ => plain_error(StatusCode::NOT_FOUND, &format!("no control endpoint {method} /_mock{path}")),
        },
    }
}

/// `PUT`, `GET` or `DELETE /_mock/scenarios/{model}`.
fn scenario(state: &State, method: &Method, model: &str, body: &[u8]) -> Response<Body> {
    match *method {
        Method::PUT => {
            match parse_json::<Scenario>(body).and_then(|scenario| scenario.validate().map(|()| scenario)) {
                Ok(scenario) => {
                    let response = ok(&scenario);
                    state.scenarios.set(model, scenario);
                    response
                }
                Err(error) => plain_error(StatusCode::BAD_REQUEST, &format!("invalid scenario: {error}")),
            }
        }
        Method::GET => match state.scenarios.get(model) {
            Some(scenario) => ok(&scenario),
            None => plain_error(StatusCode::NOT_FOUND, &format!("no scenario for model {model}")),
        },
        Method::DELETE => {
            state.scenarios.remove(model);
            no_content()
        }
        _ => plain_error(StatusCode::METHOD_NOT_ALLOWED, "use PUT, GET or DELETE"),
    }
}

fn ok(value: &impl Serialize) -> Response<Body> {
    let value = serde_json::to_value(value).unwrap_or_default();
    json_response(StatusCode::OK, &value, Vec::new(), None)
}

fn no_content() -> Response<Body> {
    let mut response = Response::new(full(""));
    *response.status_mut() = StatusCode::NO_CONTENT;
    response
}
