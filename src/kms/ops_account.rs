//! Operations that name no key: GenerateRandom and DescribeCustomKeyStores.

use rand::Rng;
use serde_json::json;
use zeroize::Zeroizing;

use super::audit::Caller;
use super::engine::{Kms, Page, check_len, check_range, paginate};
use super::error::{ErrorKind, KmsError, KmsResult};
use super::secret::SecretVec;

/// `CustomKeyStoreNotFoundException`, in the words of AWS's API model
/// (botocore/data/kms/2014-11-01/service-2.json, the exception's
/// documentation): byok has no custom key stores, so every ID and name is
/// unknown.
fn custom_key_store_not_found() -> KmsError {
    KmsError::new(
        ErrorKind::CustomKeyStoreNotFound,
        "The request was rejected because KMS cannot find a custom key store with the specified key store name or ID.",
    )
}

impl Kms {
    /// GenerateRandom: `NumberOfBytes` (1..1024) random bytes. A
    /// `CustomKeyStoreId` names no store here.
    pub fn generate_random(
        &mut self,
        caller: &Caller,
        number_of_bytes: Option<i64>,
        custom_key_store_id: Option<&str>,
    ) -> KmsResult<SecretVec> {
        let params = json!({
            "numberOfBytes": number_of_bytes,
            "customKeyStoreId": custom_key_store_id,
        });
        self.call(caller, "GenerateRandom", true, params, |kms, _| {
            // AWS checks the member's presence itself, in these words (the
            // localstack snapshot, recorded against AWS:
            // test_generate_random_invalid_number_of_bytes[None]).
            let n = number_of_bytes
                .ok_or_else(|| KmsError::validation("NumberOfBytes is required."))?;
            check_range("numberOfBytes", n, 1, 1024)?;
            if let Some(id) = custom_key_store_id {
                check_len("customKeyStoreId", id, 1, 64)?;
                return Err(custom_key_store_not_found());
            }
            let mut bytes = Zeroizing::new(vec![0u8; n as usize]);
            kms.rng.fill_bytes(&mut bytes);
            Ok(SecretVec::from(bytes))
        })
    }

    /// DescribeCustomKeyStores: byok has none, so the list is empty and a
    /// store asked for by ID or name is not found.
    pub fn describe_custom_key_stores(
        &mut self,
        caller: &Caller,
        custom_key_store_id: Option<&str>,
        custom_key_store_name: Option<&str>,
        limit: Option<i64>,
        marker: Option<&str>,
    ) -> KmsResult<Page<()>> {
        let params = json!({
            "customKeyStoreId": custom_key_store_id,
            "customKeyStoreName": custom_key_store_name,
            "limit": limit,
            "marker": marker,
        });
        self.call(caller, "DescribeCustomKeyStores", true, params, |_, _| {
            if let Some(id) = custom_key_store_id {
                check_len("customKeyStoreId", id, 1, 64)?;
            }
            if let Some(name) = custom_key_store_name {
                check_len("customKeyStoreName", name, 1, 256)?;
            }
            let page = paginate(Vec::<(String, ())>::new(), limit, marker, 100, 1000)?;
            if custom_key_store_id.is_some() || custom_key_store_name.is_some() {
                return Err(custom_key_store_not_found());
            }
            Ok(page)
        })
    }
}
