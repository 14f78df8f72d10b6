//! A key's history from CloudTrail: `LookupEvents` with the key ARN as the
//! resource name, paged and bounded. The events are CloudTrail's own JSON
//! records (`eventName` `ImportKeyMaterial`, `RotateKeyOnDemand`,
//! `DeleteImportedKeyMaterial`, `DeleteExpiredKeyMaterial`, ... with
//! `keyMaterialId` where KMS logs it), newest first as CloudTrail returns
//! them.
//!
//! A caller who may not call `cloudtrail:LookupEvents` gets AWS's
//! `AccessDeniedException` ([`BackendError::is_access_denied`]), so the
//! console can say so and fall back on ListKeyRotations.

use aws_sdk_cloudtrail::primitives::DateTime;
use aws_sdk_cloudtrail::types::{LookupAttribute, LookupAttributeKey};
use serde_json::Value;

use super::AwsBackend;
use super::errors::{Context, from_sdk};
use super::retry::CallObserver;
use crate::backend::BackendError;
use crate::backend::kms_arn_region;
use crate::kms::Timestamp;

/// CloudTrail's largest page.
const PAGE_SIZE: i32 = 50;

/// At most this many events are returned (20 pages): a key's material
/// history fits many times over; a key used for bulk encryption has its
/// crypto events cut, newest kept.
pub const MAX_EVENTS: usize = 1000;

impl AwsBackend {
    /// The CloudTrail events of the key `key_arn` (a key ARN: it names the
    /// region whose trail holds them), since `since` if given, newest
    /// first, at most [`MAX_EVENTS`]. A plain read: not recorded.
    pub fn lookup_key_events(
        &self,
        key_arn: &str,
        since: Option<Timestamp>,
    ) -> Result<Vec<Value>, BackendError> {
        const OPERATION: &str = "LookupEvents";
        let region = kms_arn_region(key_arn).ok_or_else(|| BackendError::Request {
            operation: OPERATION.to_string(),
            detail: format!("{key_arn} is not a key ARN (arn:aws:kms:<region>:<account>:key/<id>)"),
        })?;
        if !self.connection.regions.contains(&region) {
            return Err(BackendError::Request {
                operation: OPERATION.to_string(),
                detail: format!(
                    "{key_arn} is in region {region}, which this connection does not include ({})",
                    self.connection.regions.join(", ")
                ),
            });
        }
        let attribute = LookupAttribute::builder()
            .attribute_key(LookupAttributeKey::ResourceName)
            .attribute_value(key_arn)
            .build()
            .map_err(|e| BackendError::Request {
                operation: OPERATION.to_string(),
                detail: e.to_string(),
            })?;
        let client = self.cloudtrail_client(&region);
        let observer = CallObserver::new(self.retry.clone());
        let cx = Context {
            operation: OPERATION.to_string(),
            endpoint: self.endpoint("cloudtrail", &region),
            profile: self.connection.profile.clone(),
            sso: self.sso,
        };
        let start = since.map(|t| DateTime::from_millis(t.millis()));
        self.block_on(async move {
            let mut events = Vec::new();
            let mut token: Option<String> = None;
            loop {
                let out = client
                    .lookup_events()
                    .lookup_attributes(attribute.clone())
                    .set_start_time(start)
                    .max_results(PAGE_SIZE)
                    .set_next_token(token.take())
                    .customize()
                    .interceptor(observer.clone())
                    .send()
                    .await
                    .map_err(|e| from_sdk(e, &cx))?;
                events.extend(
                    out.events
                        .unwrap_or_default()
                        .into_iter()
                        .filter_map(|e| e.cloud_trail_event)
                        .filter_map(|json| serde_json::from_str::<Value>(&json).ok()),
                );
                match out.next_token {
                    Some(t) if !t.is_empty() && events.len() < MAX_EVENTS => token = Some(t),
                    _ => break,
                }
            }
            events.truncate(MAX_EVENTS);
            Ok(events)
        })
        .unwrap_or_else(|| Err(self.no_answer(&region)))
    }
}
