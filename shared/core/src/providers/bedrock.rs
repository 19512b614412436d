//! PLACEHOLDER until the wire format lands.
use super::*;
pub struct Bedrock;
impl WireFormat for Bedrock {
    fn request(&self, _: &Target, _: &Credentials, _: &ChatRequest, _: OffsetDateTime) -> Result<http::Request<Bytes>, ProviderError> {
        Err(ProviderError::Config("not implemented".into()))
    }
    fn events(&self, _: BodyStream) -> EventStream { Box::pin(futures::stream::empty()) }
    fn error(&self, status: StatusCode, _: &HeaderMap, _: &[u8]) -> ProviderError {
        ProviderError::Status { status: status.as_u16(), retry_after: None, message: String::new() }
    }
}
