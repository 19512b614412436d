//! AWS Signature Version 4 checks of incoming requests: the `Authorization` header's shape, and,
//! with known credentials, the signature itself, recomputed with the `aws-sigv4` signer.

use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SessionTokenMode, SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use time::PrimitiveDateTime;
use time::macros::format_description;

use crate::dialect::RawRequest;

const ALGORITHM: &str = "AWS4-HMAC-SHA256";
const SECURITY_TOKEN: &str = "x-amz-security-token";

/// Credentials the mock knows, to verify signatures with.
#[derive(Clone, Debug)]
pub(crate) struct AwsKeys {
    pub access_key_id: String,
    pub secret_access_key: String,
}

/// The parts of an `Authorization: AWS4-HMAC-SHA256 ...` header.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Authorization {
    pub access_key_id: String,
    pub region: String,
    pub service: String,
    pub signed_headers: Vec<String>,
    pub signature: String,
}

/// Why a request's signature is refused.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum SigV4Error {
    /// No `Authorization` header.
    Missing,
    /// An `Authorization` header that is not a well-formed SigV4 one.
    Malformed,
    /// No parseable `x-amz-date` header.
    MissingDate,
    /// The credential scope names another service.
    WrongService,
    /// Credentials are known and the access key id is not theirs.
    UnknownAccessKey,
    /// Credentials are known and the signature does not match.
    Mismatch,
}

/// Checks the request's signature for `service`: its shape always, its value with `keys`.
pub(crate) fn check(request: &RawRequest, service: &str, keys: Option<&AwsKeys>) -> Result<(), SigV4Error> {
    let header = request.header("authorization").ok_or(SigV4Error::Missing)?;
    let authorization = parse_authorization(header).ok_or(SigV4Error::Malformed)?;
    let time = request.header("x-amz-date").and_then(parse_amz_date).ok_or(SigV4Error::MissingDate)?;
    if authorization.service != service {
        return Err(SigV4Error::WrongService);
    }
    let Some(keys) = keys else {
        return Ok(());
    };
    if authorization.access_key_id != keys.access_key_id {
        return Err(SigV4Error::UnknownAccessKey);
    }
    match expected_signature(request, &authorization, keys, time) {
        Some(signature) if signature == authorization.signature => Ok(()),
        _ => Err(SigV4Error::Mismatch),
    }
}

/// Parses `AWS4-HMAC-SHA256 Credential=AKID/DATE/REGION/SERVICE/aws4_request,
/// SignedHeaders=a;b, Signature=hex`.
pub(crate) fn parse_authorization(header: &str) -> Option<Authorization> {
    let parameters = header.strip_prefix(ALGORITHM)?.strip_prefix(' ')?;
    let (mut credential, mut signed_headers, mut signature) = (None, None, None);
    for parameter in parameters.split(',') {
        match parameter.trim().split_once('=')? {
            ("Credential", value) => credential = Some(value),
            ("SignedHeaders", value) => signed_headers = Some(value),
            ("Signature", value) => signature = Some(value),
            _ => return None,
        }
    }
    let scope: Vec<&str> = credential?.split('/').collect();
    let [access_key_id, _date, region, service, "aws4_request"] = scope.as_slice() else {
        return None;
    };
    Some(Authorization {
        access_key_id: (*access_key_id).to_owned(),
        region: (*region).to_owned(),
        service: (*service).to_owned(),
        signed_headers: signed_headers?.split(';').map(str::to_owned).collect(),
        signature: signature?.to_owned(),
    })
}

/// Parses the `x-amz-date` form, `20240102T030405Z`.
fn parse_amz_date(value: &str) -> Option<SystemTime> {
    let format = format_description!("[year][month][day]T[hour][minute][second]Z");
    PrimitiveDateTime::parse(value, format).ok().map(|time| time.assume_utc().into())
}

/// The signature the client should have sent: the request re-signed with the known secret, over
/// exactly the headers the client says it signed.
fn expected_signature(
    request: &RawRequest,
    authorization: &Authorization,
    keys: &AwsKeys,
    time: SystemTime,
) -> Option<String> {
    let mut headers = Vec::new();
    for name in &authorization.signed_headers {
        let values = request.headers.get_all(name.as_str());
        let values: Vec<&str> = values.iter().map(|value| value.to_str().ok()).collect::<Option<_>>()?;
        if values.is_empty() {
            return None;
        }
        headers.extend(values.into_iter().map(|value| (name.as_str(), value)));
    }
    let token = request.header(SECURITY_TOKEN).map(str::to_owned);
    let identity = Credentials::new(&keys.access_key_id, &keys.secret_access_key, token, None, "mock").into();
    let mut settings = SigningSettings::default();
    settings.excluded_headers = None;
    if !authorization.signed_headers.iter().any(|name| name == SECURITY_TOKEN) {
        settings.session_token_mode = SessionTokenMode::Exclude;
    }
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(&authorization.region)
        .name(&authorization.service)
        .time(time)
        .settings(settings)
        .build()
        .ok()?
        .into();
    let uri = request.uri.path_and_query().map_or("/", |path| path.as_str());
    let method = request.method.as_str();
    let signable =
        SignableRequest::new(method, uri, headers.into_iter(), SignableBody::Bytes(&request.body)).ok()?;
    let (_, signature) = sign(signable, &params).ok()?.into_parts();
    Some(signature)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_header() {
        let header = "AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/bedrock/aws4_request, \
                      SignedHeaders=host;x-amz-date, Signature=abc123";
        let parsed = parse_authorization(header).unwrap();
        assert_eq!(parsed.access_key_id, "AKID");
        assert_eq!(parsed.region, "us-east-1");
        assert_eq!(parsed.service, "bedrock");
        assert_eq!(parsed.signed_headers, ["host", "x-amz-date"]);
        assert_eq!(parsed.signature, "abc123");
    }

    #[test]
    fn rejects_malformed_headers() {
        assert_eq!(parse_authorization("Bearer x"), None);
        assert_eq!(
            parse_authorization("AWS4-HMAC-SHA256 Credential=AKID/20240101/bedrock, Signature=a"),
            None
        );
    }

    #[test]
    fn parses_amz_dates() {
        let time = parse_amz_date("20240102T030405Z").unwrap();
        let seconds = time.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs();
        assert_eq!(seconds, 1_704_164_645);
        assert_eq!(parse_amz_date("2024-01-02"), None);
    }
}
