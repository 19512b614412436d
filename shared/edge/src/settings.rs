//! A function Worker's settings: its vars and secrets, by the same names the Lambdas
//! read from their environment (`CONFAB_*`, and the AWS SDK's `AWS_*`).

use confab_aws_http::{AwsConfig, Credentials};
use confab_core::Config;
use confab_core::config::{ConfigError, origin};
use std::collections::BTreeMap;

/// Everything a function Worker is built from.
#[derive(Debug)]
pub struct Settings {
    pub config: Config,
    pub aws: AwsConfig,
    pub table: String,
    pub bucket: String,
    pub secrets_prefix: String,
}

impl Settings {
    /// Reads `CONFAB_TABLE`, `CONFAB_BUCKET` and `AWS_REGION` (required), the
    /// credentials (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, optional
    /// `AWS_SESSION_TOKEN`; Worker secrets), optional `AWS_ENDPOINT_URL` (an emulator,
    /// where credentials may be left out) and `CONFAB_SECRETS_PREFIX`, and the core's
    /// settings.
    pub fn parse(vars: &BTreeMap<String, String>) -> Result<Settings, ConfigError> {
        let required = |name: &str| {
            vars.get(name).filter(|v| !v.trim().is_empty()).cloned().ok_or_else(|| ConfigError {
                name: name.into(),
                problem: "required on Workers (a var or a secret in the Worker's wrangler config)".into(),
            })
        };
        let endpoint = vars.get("AWS_ENDPOINT_URL").map(|raw| origin("AWS_ENDPOINT_URL", raw)).transpose()?;
        let credentials = match (vars.get("AWS_ACCESS_KEY_ID"), &endpoint) {
            (None, Some(_)) => Credentials {
                access_key_id: "emulator".into(),
                secret_access_key: "emulator".into(),
                session_token: None,
            },
            _ => Credentials {
                access_key_id: required("AWS_ACCESS_KEY_ID")?,
                secret_access_key: required("AWS_SECRET_ACCESS_KEY")?,
                session_token: vars.get("AWS_SESSION_TOKEN").filter(|t| !t.is_empty()).cloned(),
            },
        };
        let mut aws = AwsConfig::new(required("AWS_REGION")?, credentials);
        if let Some(url) = endpoint {
            aws = aws.with_endpoint(&url);
        }
        Ok(Settings {
            config: Config::from_settings(vars)?,
            aws,
            table: required("CONFAB_TABLE")?,
            bucket: required("CONFAB_BUCKET")?,
            secrets_prefix: vars.get("CONFAB_SECRETS_PREFIX").cloned().unwrap_or_default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    const DEPLOYED: [(&str, &str); 6] = [
        ("CONFAB_TABLE", "confab-prod-Table"),
        ("CONFAB_BUCKET", "confab-prod-bucket"),
        ("CONFAB_SECRETS_PREFIX", "confab/prod/"),
        ("AWS_REGION", "eu-west-1"),
        ("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE"),
        ("AWS_SECRET_ACCESS_KEY", "generated-in-the-test"),
    ];

    #[test]
    fn a_deployed_worker_reads_its_resources_and_credentials() {
        let settings = Settings::parse(&vars(&DEPLOYED)).unwrap();
        assert_eq!(settings.table, "confab-prod-Table");
        assert_eq!(settings.bucket, "confab-prod-bucket");
        assert_eq!(settings.secrets_prefix, "confab/prod/");
        assert_eq!(settings.aws.region, "eu-west-1");
        assert_eq!(settings.aws.dynamodb_endpoint, None);
        assert_eq!(settings.aws.credentials.access_key_id, "AKIAEXAMPLE");
    }

    #[test]
    fn an_emulator_needs_no_credentials() {
        let mut v = vars(&DEPLOYED[..4]);
        v.insert("AWS_ENDPOINT_URL".into(), "http://127.0.0.1:5000/".into());
        let settings = Settings::parse(&v).unwrap();
        assert_eq!(settings.aws.s3_endpoint.as_deref(), Some("http://127.0.0.1:5000"));
    }

    #[test]
    fn missing_or_malformed_settings_are_named() {
        for (drop, name) in
            [(0, "CONFAB_TABLE"), (1, "CONFAB_BUCKET"), (3, "AWS_REGION"), (5, "AWS_SECRET_ACCESS_KEY")]
        {
            let mut v = vars(&DEPLOYED);
            v.remove(DEPLOYED[drop].0);
            assert_eq!(Settings::parse(&v).unwrap_err().name, name);
        }
        let mut v = vars(&DEPLOYED);
        v.insert("AWS_ENDPOINT_URL".into(), "localhost:5000".into());
        assert_eq!(Settings::parse(&v).unwrap_err().name, "AWS_ENDPOINT_URL");
        v.insert("AWS_ENDPOINT_URL".into(), "http://127.0.0.1:5000".into());
        v.insert("CONFAB_MAX_BODY_BYTES".into(), "0".into());
        assert_eq!(Settings::parse(&v).unwrap_err().name, "CONFAB_MAX_BODY_BYTES");
    }
}
