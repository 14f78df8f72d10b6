//! The IAM actions the AWS backend needs: one rule from operation to
//! actions, so the officer's policy (`assets/aws-officer-policy.json`) can
//! be checked against what byok really calls.

/// The IAM actions a call of `operation` needs (AWS KMS's "Actions,
/// resources, and condition keys" page: every KMS operation is the action
/// of the same name, except ReEncrypt, which needs `kms:ReEncryptFrom` on
/// the source key and `kms:ReEncryptTo` on the destination key).
pub fn iam_actions(operation: &str) -> Vec<String> {
    match operation {
        "ReEncrypt" => vec!["kms:ReEncryptFrom".into(), "kms:ReEncryptTo".into()],
        op => vec![format!("kms:{op}")],
    }
}

/// What [`crate::aws::AwsBackend::lookup_key_events`] needs.
pub const CLOUDTRAIL_ACTION: &str = "cloudtrail:LookupEvents";

/// Every IAM action the AWS backend may need, sorted, without repeats.
pub fn all_actions() -> Vec<String> {
    let mut all: Vec<String> = super::OPERATIONS
        .iter()
        .flat_map(|op| iam_actions(op))
        .chain(std::iter::once(CLOUDTRAIL_ACTION.to_string()))
        .collect();
    all.sort();
    all.dedup();
    all
}
