//! `byok kms <verb>`: the AWS CLI's verbs and flags for every operation in
//! [`crate::kms::OPERATIONS`]. Each verb builds the AWS JSON request; a
//! [`Backend`] (the local store, or AWS) runs it.

use clap::{Args, Subcommand};

use super::CliError;
use super::output::Json;
use super::params;
use crate::backend::{Backend, BackendError};

/// Builds a request object member by member, in the AWS model's order.
#[derive(Default)]
struct Request {
    members: Vec<(String, Json)>,
}

impl Request {
    fn put(&mut self, member: &str, value: Json) {
        self.members.push((member.to_string(), value));
    }

    fn text(mut self, member: &str, flag: &str, value: Option<&String>) -> Result<Self, CliError> {
        if let Some(v) = value {
            let t = params::text(flag, v)?;
            self.put(member, Json::str(t));
        }
        Ok(self)
    }

    fn blob(
        mut self,
        member: &str,
        flag: &str,
        value: &str,
        format: params::BinaryFormat,
    ) -> Result<Self, CliError> {
        {
            let b = params::blob(flag, value, format)?;
            self.put(member, Json::String(b));
        }
        Ok(self)
    }

    fn int(mut self, member: &str, value: Option<i64>) -> Self {
        if let Some(v) = value {
            self.put(member, Json::Number(v.into()));
        }
        self
    }

    fn bool(mut self, member: &str, value: Option<bool>) -> Self {
        if let Some(v) = value {
            self.put(member, Json::Bool(v));
        }
        self
    }

    fn context(
        mut self,
        member: &str,
        flag: &str,
        value: Option<&String>,
    ) -> Result<Self, CliError> {
        if let Some(v) = value {
            let m = params::string_map(flag, v)?;
            self.put(member, m);
        }
        Ok(self)
    }

    fn list(mut self, member: &str, flag: &str, values: &[String]) -> Result<Self, CliError> {
        if !values.is_empty() {
            let l = params::string_list(flag, values)?;
            self.put(member, l);
        }
        Ok(self)
    }

    fn tags(mut self, member: &str, flag: &str, values: &[String]) -> Result<Self, CliError> {
        if !values.is_empty() {
            let t = params::tags(flag, values)?;
            self.put(member, t);
        }
        Ok(self)
    }

    fn timestamp(
        mut self,
        member: &str,
        flag: &str,
        value: Option<&String>,
    ) -> Result<Self, CliError> {
        if let Some(v) = value {
            let t = params::timestamp(flag, v)?;
            self.put(member, t);
        }
        Ok(self)
    }

    fn done(self) -> Json {
        Json::Object(self.members)
    }
}

/// `--key-id` (required).
#[derive(Args, Debug)]
pub struct KeyIdArg {
    /// The key: key ID, key ARN, alias name (alias/...) or alias ARN.
    #[arg(long, value_name = "KEY")]
    key_id: String,
}

/// `--grant-tokens` (accepted; byok has no grants).
#[derive(Args, Debug)]
pub struct GrantTokens {
    /// Grant tokens (accepted and ignored: byok has no grants).
    #[arg(long, num_args = 1.., value_name = "TOKEN")]
    grant_tokens: Vec<String>,
}

/// `--dry-run` / `--no-dry-run`, as the AWS CLI spells a boolean member.
#[derive(Args, Debug)]
pub struct DryRun {
    /// Check the request and answer DryRunOperationException if it would
    /// have succeeded; nothing is done.
    #[arg(long, overrides_with = "no_dry_run")]
    dry_run: bool,
    /// Run the request (the default).
    #[arg(long)]
    no_dry_run: bool,
}

impl DryRun {
    fn value(&self) -> Option<bool> {
        if self.dry_run {
            Some(true)
        } else if self.no_dry_run {
            Some(false)
        } else {
            None
        }
    }
}

/// `--limit` / `--marker` for list operations.
#[derive(Args, Debug)]
pub struct Paging {
    /// Maximum number of items in one response (1-1000). Given, or with
    /// --marker, the single page is printed with Truncated/NextMarker;
    /// otherwise every page is fetched and merged, as the AWS CLI does.
    #[arg(long, value_name = "N")]
    limit: Option<i64>,
    /// Where to continue: the NextMarker of a truncated response.
    #[arg(long, value_name = "MARKER")]
    marker: Option<String>,
    /// Items per request while fetching every page.
    #[arg(long, value_name = "N")]
    page_size: Option<i64>,
}

/// The `kms` verbs.
#[derive(Subcommand, Debug)]
#[command(subcommand_required = true, arg_required_else_help = true)]
pub enum KmsVerb {
    /// Creates a key (--origin EXTERNAL for imported key material; it starts in PendingImport).
    CreateKey(CreateKey),
    /// Shows a key's metadata (KeyState, CurrentKeyMaterialId, ...).
    DescribeKey(KeyOnly),
    /// Lists the keys in the store.
    ListKeys(ListKeys),
    /// Issues a wrapping public key and an import token for importing key material.
    GetParametersForImport(GetParametersForImport),
    /// Imports wrapped key material (first material, new material for rotation, or a re-import).
    ImportKeyMaterial(ImportKeyMaterial),
    /// Deletes imported key material (default: the current one); the key goes to PendingImport.
    DeleteImportedKeyMaterial(DeleteImportedKeyMaterial),
    /// Starts an on-demand rotation to the material that is PENDING_ROTATION.
    RotateKeyOnDemand(KeyOnly),
    /// Shows the rotation status (OnDemandRotationStartDate while a rotation runs).
    GetKeyRotationStatus(KeyOnly),
    /// Lists a key's materials and completed rotations.
    ListKeyRotations(ListKeyRotations),
    /// Turns automatic rotation on (AWS_KMS keys only).
    EnableKeyRotation(EnableKeyRotation),
    /// Turns automatic rotation off (AWS_KMS keys only).
    DisableKeyRotation(KeyOnly),
    /// Encrypts up to 4096 bytes under the key's current material.
    Encrypt(Encrypt),
    /// Decrypts a ciphertext blob with the material named in it.
    Decrypt(Decrypt),
    /// Decrypts a ciphertext blob and encrypts it again under another key.
    ReEncrypt(ReEncrypt),
    /// Returns a data key in plaintext and encrypted under the key.
    GenerateDataKey(GenerateDataKey),
    /// Returns a data key encrypted under the key only.
    GenerateDataKeyWithoutPlaintext(GenerateDataKey),
    /// Computes the HMAC of a message (1-4096 bytes) with an HMAC key.
    GenerateMac(GenerateMac),
    /// Verifies an HMAC of a message (KMSInvalidMacException if it does not match).
    VerifyMac(VerifyMac),
    /// Returns a key pair, the private key in plaintext and encrypted under the key.
    GenerateDataKeyPair(GenerateDataKeyPair),
    /// Returns a key pair, the private key encrypted under the key only.
    GenerateDataKeyPairWithoutPlaintext(GenerateDataKeyPair),
    /// Returns the public key of an asymmetric key (DER SubjectPublicKeyInfo).
    GetPublicKey(KeyOnly),
    /// Signs a message or digest with an asymmetric SIGN_VERIFY key.
    Sign(Sign),
    /// Verifies a signature (KMSInvalidSignatureException if it does not match).
    Verify(Verify),
    /// Derives an ECDH shared secret with a KEY_AGREEMENT key and a peer public key.
    DeriveSharedSecret(DeriveSharedSecret),
    /// Enables a key.
    EnableKey(KeyOnly),
    /// Disables a key.
    DisableKey(KeyOnly),
    /// Schedules a key's deletion after 7-30 days.
    ScheduleKeyDeletion(ScheduleKeyDeletion),
    /// Replicates a multi-Region primary key into another region.
    ReplicateKey(ReplicateKey),
    /// Makes the replica in another region the primary key.
    UpdatePrimaryRegion(UpdatePrimaryRegion),
    /// Cancels a scheduled deletion (the key comes back Disabled).
    CancelKeyDeletion(KeyOnly),
    /// Creates an alias (alias/...) for a key.
    CreateAlias(Alias),
    /// Points an alias at another key.
    UpdateAlias(Alias),
    /// Deletes an alias.
    DeleteAlias(DeleteAlias),
    /// Lists aliases (all, or a key's).
    ListAliases(ListAliases),
    /// Adds or replaces tags on a key.
    TagResource(TagResource),
    /// Removes tags from a key.
    UntagResource(UntagResource),
    /// Lists a key's tags.
    ListResourceTags(ListResourceTags),
    /// Replaces a key's description.
    UpdateKeyDescription(UpdateKeyDescription),
    /// Returns random bytes (1-1024).
    GenerateRandom(GenerateRandom),
    /// Lists custom key stores (byok has none).
    DescribeCustomKeyStores(DescribeCustomKeyStores),
    /// Prints a key's policy (kept, not enforced).
    GetKeyPolicy(GetKeyPolicy),
    /// Replaces a key's policy (a JSON policy document; kept, not enforced).
    PutKeyPolicy(PutKeyPolicy),
    /// Lists a key's policy names (always "default").
    ListKeyPolicies(ListKeyPolicies),
}

/// `get-key-policy`.
#[derive(Args, Debug)]
pub struct GetKeyPolicy {
    #[command(flatten)]
    key: KeyIdArg,
    /// The policy's name: `default`, the only one.
    #[arg(long, value_name = "NAME")]
    policy_name: Option<String>,
}

/// `put-key-policy`.
#[derive(Args, Debug)]
pub struct PutKeyPolicy {
    #[command(flatten)]
    key: KeyIdArg,
    /// The policy's name: `default`, the only one.
    #[arg(long, value_name = "NAME")]
    policy_name: Option<String>,
    /// The policy document (JSON, or file://policy.json).
    #[arg(long, value_name = "POLICY")]
    policy: String,
    /// Accepted for compatibility; byok does not evaluate policies.
    #[arg(long)]
    bypass_policy_lockout_safety_check: bool,
}

/// `list-key-policies`.
#[derive(Args, Debug)]
pub struct ListKeyPolicies {
    #[command(flatten)]
    key: KeyIdArg,
    #[command(flatten)]
    paging: Paging,
}

/// Operations that take only `--key-id`.
#[derive(Args, Debug)]
pub struct KeyOnly {
    #[command(flatten)]
    key: KeyIdArg,
}

/// `create-key`.
#[derive(Args, Debug)]
pub struct CreateKey {
    /// EXTERNAL (imported key material) or AWS_KMS (default).
    #[arg(long, value_name = "ORIGIN")]
    origin: Option<String>,
    /// A description (0-8192 characters).
    #[arg(long, value_name = "TEXT", allow_hyphen_values = true)]
    description: Option<String>,
    /// Tags: TagKey=k,TagValue=v [TagKey=k2,TagValue=v2 ...], or a JSON list.
    #[arg(long, num_args = 1.., value_name = "TAG")]
    tags: Vec<String>,
    /// ENCRYPT_DECRYPT (the only usage byok models).
    #[arg(long, value_name = "USAGE")]
    key_usage: Option<String>,
    /// SYMMETRIC_DEFAULT (the only spec byok models).
    #[arg(long, value_name = "SPEC")]
    key_spec: Option<String>,
    /// Deprecated name of --key-spec.
    #[arg(long, value_name = "SPEC", hide = true)]
    customer_master_key_spec: Option<String>,
    /// A key policy (accepted, not enforced).
    #[arg(long, value_name = "POLICY")]
    policy: Option<String>,
    /// Accepted for compatibility; byok does not evaluate policies.
    #[arg(long)]
    bypass_policy_lockout_safety_check: bool,
    /// A multi-Region primary key (id mrk-...), to replicate with
    /// replicate-key.
    #[arg(long, overrides_with = "no_multi_region")]
    multi_region: bool,
    /// A single-Region key (the default).
    #[arg(long)]
    no_multi_region: bool,
    /// Custom key stores are not supported (refused).
    #[arg(long, value_name = "ID", hide = true)]
    custom_key_store_id: Option<String>,
}

/// `list-keys`.
#[derive(Args, Debug)]
pub struct ListKeys {
    #[command(flatten)]
    paging: Paging,
}

/// `get-parameters-for-import`.
#[derive(Args, Debug)]
pub struct GetParametersForImport {
    #[command(flatten)]
    key: KeyIdArg,
    /// RSAES_OAEP_SHA_256, RSAES_OAEP_SHA_1, RSA_AES_KEY_WRAP_SHA_256 or RSA_AES_KEY_WRAP_SHA_1.
    #[arg(long, value_name = "ALGORITHM")]
    wrapping_algorithm: String,
    /// RSA_2048, RSA_3072 or RSA_4096.
    #[arg(long, value_name = "SPEC")]
    wrapping_key_spec: String,
}

/// `import-key-material`.
#[derive(Args, Debug)]
pub struct ImportKeyMaterial {
    #[command(flatten)]
    key: KeyIdArg,
    /// The wrapped material: fileb://EncryptedKeyMaterial.bin (or base64).
    #[arg(long, value_name = "BLOB")]
    encrypted_key_material: String,
    /// The import token: fileb://ImportToken.bin (or base64).
    #[arg(long, value_name = "BLOB")]
    import_token: String,
    /// KEY_MATERIAL_EXPIRES (the default; needs --valid-to) or KEY_MATERIAL_DOES_NOT_EXPIRE.
    #[arg(long, value_name = "MODEL")]
    expiration_model: Option<String>,
    /// When the material expires: ISO 8601 (2026-12-31T23:59:59Z) or epoch seconds.
    #[arg(long, value_name = "TIME")]
    valid_to: Option<String>,
    /// NEW_KEY_MATERIAL (first import, or a new material for rotation) or EXISTING_KEY_MATERIAL (re-import).
    #[arg(long, value_name = "TYPE")]
    import_type: Option<String>,
    /// Where the material is kept outside KMS (0-256 characters).
    #[arg(long, value_name = "TEXT", allow_hyphen_values = true)]
    key_material_description: Option<String>,
    /// For a re-import: the KeyMaterialId the material must have.
    #[arg(long, value_name = "ID")]
    key_material_id: Option<String>,
}

/// `delete-imported-key-material`.
#[derive(Args, Debug)]
pub struct DeleteImportedKeyMaterial {
    #[command(flatten)]
    key: KeyIdArg,
    /// The material to delete (default: the current one).
    #[arg(long, value_name = "ID")]
    key_material_id: Option<String>,
}

/// `list-key-rotations`.
#[derive(Args, Debug)]
pub struct ListKeyRotations {
    #[command(flatten)]
    key: KeyIdArg,
    /// ROTATIONS_ONLY (default) or ALL_KEY_MATERIAL (also the first and a pending material).
    #[arg(long, value_name = "WHICH")]
    include_key_material: Option<String>,
    #[command(flatten)]
    paging: Paging,
}

/// `enable-key-rotation`.
#[derive(Args, Debug)]
pub struct EnableKeyRotation {
    #[command(flatten)]
    key: KeyIdArg,
    /// Days between automatic rotations (90-2560, default 365).
    #[arg(long, value_name = "DAYS")]
    rotation_period_in_days: Option<i64>,
}

/// `encrypt`.
#[derive(Args, Debug)]
pub struct Encrypt {
    #[command(flatten)]
    key: KeyIdArg,
    /// The data: fileb://FILE, or base64 (1-4096 bytes).
    #[arg(long, value_name = "BLOB")]
    plaintext: String,
    /// Encryption context: k=v,k2=v2 or JSON {"k":"v"}.
    #[arg(long, value_name = "CONTEXT")]
    encryption_context: Option<String>,
    /// SYMMETRIC_DEFAULT.
    #[arg(long, value_name = "ALGORITHM")]
    encryption_algorithm: Option<String>,
    #[command(flatten)]
    grants: GrantTokens,
    #[command(flatten)]
    dry_run: DryRun,
}

/// `generate-mac`.
#[derive(Args, Debug)]
pub struct GenerateMac {
    /// The HMAC key: key ID, key ARN, alias name (alias/...) or alias ARN.
    #[arg(long, value_name = "KEY")]
    key_id: String,
    /// The message: fileb://FILE, or base64 (1-4096 bytes).
    #[arg(long, value_name = "BLOB")]
    message: String,
    /// HMAC_SHA_224, HMAC_SHA_256, HMAC_SHA_384 or HMAC_SHA_512 (the key spec's).
    #[arg(long, value_name = "ALGORITHM")]
    mac_algorithm: String,
    #[command(flatten)]
    grants: GrantTokens,
    #[command(flatten)]
    dry_run: DryRun,
}

/// `verify-mac`.
#[derive(Args, Debug)]
pub struct VerifyMac {
    /// The HMAC key: key ID, key ARN, alias name (alias/...) or alias ARN.
    #[arg(long, value_name = "KEY")]
    key_id: String,
    /// The message: fileb://FILE, or base64 (1-4096 bytes).
    #[arg(long, value_name = "BLOB")]
    message: String,
    /// HMAC_SHA_224, HMAC_SHA_256, HMAC_SHA_384 or HMAC_SHA_512 (the key spec's).
    #[arg(long, value_name = "ALGORITHM")]
    mac_algorithm: String,
    /// The MAC to verify: fileb://FILE, or base64.
    #[arg(long, value_name = "BLOB")]
    mac: String,
    #[command(flatten)]
    grants: GrantTokens,
    #[command(flatten)]
    dry_run: DryRun,
}

/// `generate-data-key-pair` and `generate-data-key-pair-without-plaintext`.
#[derive(Args, Debug)]
pub struct GenerateDataKeyPair {
    /// The symmetric encryption key: key ID, key ARN, alias name or alias ARN.
    #[arg(long, value_name = "KEY")]
    key_id: String,
    /// RSA_2048, RSA_3072, RSA_4096, ECC_NIST_P256, ECC_NIST_P384, ECC_NIST_P521, ECC_SECG_P256K1.
    #[arg(long, value_name = "SPEC")]
    key_pair_spec: String,
    /// Encryption context: k=v,k2=v2 or JSON {"k":"v"}.
    #[arg(long, value_name = "CONTEXT")]
    encryption_context: Option<String>,
    #[command(flatten)]
    grants: GrantTokens,
    #[command(flatten)]
    dry_run: DryRun,
}

/// `sign`.
#[derive(Args, Debug)]
pub struct Sign {
    /// The signing key: key ID, key ARN, alias name (alias/...) or alias ARN.
    #[arg(long, value_name = "KEY")]
    key_id: String,
    /// The message or digest: fileb://FILE, or base64 (1-4096 bytes).
    #[arg(long, value_name = "BLOB")]
    message: String,
    /// RAW (default) or DIGEST.
    #[arg(long, value_name = "TYPE")]
    message_type: Option<String>,
    /// RSASSA_PSS_SHA_256, RSASSA_PKCS1_V1_5_SHA_256, ECDSA_SHA_256, ...
    #[arg(long, value_name = "ALGORITHM")]
    signing_algorithm: String,
    #[command(flatten)]
    grants: GrantTokens,
    #[command(flatten)]
    dry_run: DryRun,
}

/// `verify`.
#[derive(Args, Debug)]
pub struct Verify {
    /// The signing key: key ID, key ARN, alias name (alias/...) or alias ARN.
    #[arg(long, value_name = "KEY")]
    key_id: String,
    /// The message or digest: fileb://FILE, or base64 (1-4096 bytes).
    #[arg(long, value_name = "BLOB")]
    message: String,
    /// RAW (default) or DIGEST.
    #[arg(long, value_name = "TYPE")]
    message_type: Option<String>,
    /// The signature: fileb://FILE, or base64.
    #[arg(long, value_name = "BLOB")]
    signature: String,
    /// RSASSA_PSS_SHA_256, RSASSA_PKCS1_V1_5_SHA_256, ECDSA_SHA_256, ...
    #[arg(long, value_name = "ALGORITHM")]
    signing_algorithm: String,
    #[command(flatten)]
    grants: GrantTokens,
    #[command(flatten)]
    dry_run: DryRun,
}

/// `derive-shared-secret`.
#[derive(Args, Debug)]
pub struct DeriveSharedSecret {
    /// The KEY_AGREEMENT key: key ID, key ARN, alias name or alias ARN.
    #[arg(long, value_name = "KEY")]
    key_id: String,
    /// ECDH.
    #[arg(long, value_name = "ALGORITHM")]
    key_agreement_algorithm: String,
    /// The peer's public key (DER SubjectPublicKeyInfo): fileb://FILE, or base64.
    #[arg(long, value_name = "BLOB")]
    public_key: String,
    #[command(flatten)]
    grants: GrantTokens,
    #[command(flatten)]
    dry_run: DryRun,
}

/// `decrypt`.
#[derive(Args, Debug)]
pub struct Decrypt {
    /// The ciphertext: fileb://FILE, or base64.
    #[arg(long, value_name = "BLOB")]
    ciphertext_blob: String,
    /// Encryption context: k=v,k2=v2 or JSON {"k":"v"}.
    #[arg(long, value_name = "CONTEXT")]
    encryption_context: Option<String>,
    /// The key the ciphertext must belong to (optional).
    #[arg(long, value_name = "KEY")]
    key_id: Option<String>,
    /// SYMMETRIC_DEFAULT.
    #[arg(long, value_name = "ALGORITHM")]
    encryption_algorithm: Option<String>,
    #[command(flatten)]
    grants: GrantTokens,
    #[command(flatten)]
    dry_run: DryRun,
}

/// `re-encrypt`.
#[derive(Args, Debug)]
pub struct ReEncrypt {
    /// The ciphertext: fileb://FILE, or base64.
    #[arg(long, value_name = "BLOB")]
    ciphertext_blob: String,
    /// The ciphertext's encryption context.
    #[arg(long, value_name = "CONTEXT")]
    source_encryption_context: Option<String>,
    /// The key the ciphertext must belong to (optional).
    #[arg(long, value_name = "KEY")]
    source_key_id: Option<String>,
    /// The key to encrypt under.
    #[arg(long, value_name = "KEY")]
    destination_key_id: String,
    /// The new encryption context.
    #[arg(long, value_name = "CONTEXT")]
    destination_encryption_context: Option<String>,
    /// SYMMETRIC_DEFAULT.
    #[arg(long, value_name = "ALGORITHM")]
    source_encryption_algorithm: Option<String>,
    /// SYMMETRIC_DEFAULT.
    #[arg(long, value_name = "ALGORITHM")]
    destination_encryption_algorithm: Option<String>,
    #[command(flatten)]
    grants: GrantTokens,
    #[command(flatten)]
    dry_run: DryRun,
}

/// `generate-data-key` and `generate-data-key-without-plaintext`.
#[derive(Args, Debug)]
pub struct GenerateDataKey {
    #[command(flatten)]
    key: KeyIdArg,
    /// AES_256 or AES_128 (or give --number-of-bytes).
    #[arg(long, value_name = "SPEC")]
    key_spec: Option<String>,
    /// Length of the data key in bytes (1-1024).
    #[arg(long, value_name = "N")]
    number_of_bytes: Option<i64>,
    /// Encryption context: k=v,k2=v2 or JSON {"k":"v"}.
    #[arg(long, value_name = "CONTEXT")]
    encryption_context: Option<String>,
    #[command(flatten)]
    grants: GrantTokens,
    #[command(flatten)]
    dry_run: DryRun,
}

/// `schedule-key-deletion`.
#[derive(Args, Debug)]
pub struct ScheduleKeyDeletion {
    #[command(flatten)]
    key: KeyIdArg,
    /// Waiting period (7-30 days, default 30).
    #[arg(long, value_name = "DAYS")]
    pending_window_in_days: Option<i64>,
}

/// `replicate-key`.
#[derive(Args, Debug)]
pub struct ReplicateKey {
    #[command(flatten)]
    key: KeyIdArg,
    /// The region of the replica (us-east-1 style).
    #[arg(long, value_name = "REGION")]
    replica_region: String,
    /// A key policy for the replica (accepted, not enforced).
    #[arg(long, value_name = "POLICY")]
    policy: Option<String>,
    /// Accepted for compatibility; byok does not evaluate policies.
    #[arg(long)]
    bypass_policy_lockout_safety_check: bool,
    /// The replica's description (0-8192 characters).
    #[arg(long, value_name = "TEXT", allow_hyphen_values = true)]
    description: Option<String>,
    /// The replica's tags: TagKey=k,TagValue=v [...], or a JSON list.
    #[arg(long, num_args = 1.., value_name = "TAG")]
    tags: Vec<String>,
}

/// `update-primary-region`.
#[derive(Args, Debug)]
pub struct UpdatePrimaryRegion {
    #[command(flatten)]
    key: KeyIdArg,
    /// The region of the replica that becomes the primary key.
    #[arg(long, value_name = "REGION")]
    primary_region: String,
}

/// `create-alias` and `update-alias`.
#[derive(Args, Debug)]
pub struct Alias {
    /// alias/NAME.
    #[arg(long, value_name = "ALIAS")]
    alias_name: String,
    /// The key (ID or ARN).
    #[arg(long, value_name = "KEY")]
    target_key_id: String,
}

/// `delete-alias`.
#[derive(Args, Debug)]
pub struct DeleteAlias {
    /// alias/NAME.
    #[arg(long, value_name = "ALIAS")]
    alias_name: String,
}

/// `list-aliases`.
#[derive(Args, Debug)]
pub struct ListAliases {
    /// Only the aliases of this key.
    #[arg(long, value_name = "KEY")]
    key_id: Option<String>,
    #[command(flatten)]
    paging: Paging,
}

/// `tag-resource`.
#[derive(Args, Debug)]
pub struct TagResource {
    #[command(flatten)]
    key: KeyIdArg,
    /// TagKey=k,TagValue=v [TagKey=k2,TagValue=v2 ...], or a JSON list.
    #[arg(long, num_args = 1.., required = true, value_name = "TAG")]
    tags: Vec<String>,
}

/// `untag-resource`.
#[derive(Args, Debug)]
pub struct UntagResource {
    #[command(flatten)]
    key: KeyIdArg,
    /// Tag keys to remove.
    #[arg(long, num_args = 1.., required = true, value_name = "KEY")]
    tag_keys: Vec<String>,
}

/// `list-resource-tags`.
#[derive(Args, Debug)]
pub struct ListResourceTags {
    #[command(flatten)]
    key: KeyIdArg,
    #[command(flatten)]
    paging: Paging,
}

/// `update-key-description`.
#[derive(Args, Debug)]
pub struct UpdateKeyDescription {
    #[command(flatten)]
    key: KeyIdArg,
    /// The new description.
    #[arg(long, value_name = "TEXT", allow_hyphen_values = true)]
    description: String,
}

/// `generate-random`.
#[derive(Args, Debug)]
pub struct GenerateRandom {
    /// How many bytes (1-1024).
    #[arg(long, value_name = "N")]
    number_of_bytes: Option<i64>,
    /// Generate in this custom key store (byok has none).
    #[arg(long, value_name = "ID")]
    custom_key_store_id: Option<String>,
}

/// `describe-custom-key-stores`.
#[derive(Args, Debug)]
pub struct DescribeCustomKeyStores {
    /// Only this custom key store.
    #[arg(long, value_name = "ID")]
    custom_key_store_id: Option<String>,
    /// Only the custom key store of this name.
    #[arg(long, value_name = "NAME")]
    custom_key_store_name: Option<String>,
    #[command(flatten)]
    paging: Paging,
}

/// A request ready to run.
pub struct Call {
    /// The AWS operation name.
    pub operation: &'static str,
    /// The request object.
    pub body: Json,
    /// For list operations without --limit/--marker: the member whose items
    /// are merged over all pages, and the page size.
    pub paginate: Option<(&'static str, Option<i64>)>,
}

fn key(k: &KeyIdArg) -> Result<Request, CliError> {
    Request::default().text("KeyId", "--key-id", Some(&k.key_id))
}

fn grants(r: Request, g: &GrantTokens) -> Result<Request, CliError> {
    r.list("GrantTokens", "--grant-tokens", &g.grant_tokens)
}

fn paged(
    r: Request,
    p: &Paging,
    result_key: &'static str,
    no_paginate: bool,
) -> (Json, Option<(&'static str, Option<i64>)>) {
    let whole = p.limit.is_none() && p.marker.is_none() && !no_paginate;
    let r = r.int(
        "Limit",
        p.limit.or(if no_paginate { p.page_size } else { None }),
    );
    let r = match &p.marker {
        Some(m) => {
            let mut r = r;
            r.put("Marker", Json::str(m.clone()));
            r
        }
        None => r,
    };
    (r.done(), whole.then_some((result_key, p.page_size)))
}

impl KmsVerb {
    /// The operation and its request. Parameter files are read here, before
    /// the store is opened, so a wrong path costs no passphrase.
    pub fn call(&self, no_paginate: bool, binary: params::BinaryFormat) -> Result<Call, CliError> {
        use KmsVerb as V;
        let single = |operation: &'static str, body: Json| Call {
            operation,
            body,
            paginate: None,
        };
        Ok(match self {
            V::CreateKey(a) => {
                let multi = if a.multi_region {
                    Some(true)
                } else if a.no_multi_region {
                    Some(false)
                } else {
                    None
                };
                let r = Request::default()
                    .text("Policy", "--policy", a.policy.as_ref())?
                    .text("Description", "--description", a.description.as_ref())?
                    .text("KeyUsage", "--key-usage", a.key_usage.as_ref())?
                    .text(
                        "CustomerMasterKeySpec",
                        "--customer-master-key-spec",
                        a.customer_master_key_spec.as_ref(),
                    )?
                    .text("KeySpec", "--key-spec", a.key_spec.as_ref())?
                    .text("Origin", "--origin", a.origin.as_ref())?
                    .text(
                        "CustomKeyStoreId",
                        "--custom-key-store-id",
                        a.custom_key_store_id.as_ref(),
                    )?
                    .bool(
                        "BypassPolicyLockoutSafetyCheck",
                        a.bypass_policy_lockout_safety_check.then_some(true),
                    )
                    .tags("Tags", "--tags", &a.tags)?
                    .bool("MultiRegion", multi);
                single("CreateKey", r.done())
            }
            V::DescribeKey(a) => single("DescribeKey", key(&a.key)?.done()),
            V::ListKeys(a) => {
                let (body, p) = paged(Request::default(), &a.paging, "Keys", no_paginate);
                Call {
                    operation: "ListKeys",
                    body,
                    paginate: p,
                }
            }
            V::GetParametersForImport(a) => {
                let r = key(&a.key)?
                    .text(
                        "WrappingAlgorithm",
                        "--wrapping-algorithm",
                        Some(&a.wrapping_algorithm),
                    )?
                    .text(
                        "WrappingKeySpec",
                        "--wrapping-key-spec",
                        Some(&a.wrapping_key_spec),
                    )?;
                single("GetParametersForImport", r.done())
            }
            V::ImportKeyMaterial(a) => {
                let r = key(&a.key)?
                    .blob("ImportToken", "--import-token", &a.import_token, binary)?
                    .blob(
                        "EncryptedKeyMaterial",
                        "--encrypted-key-material",
                        &a.encrypted_key_material,
                        binary,
                    )?
                    .timestamp("ValidTo", "--valid-to", a.valid_to.as_ref())?
                    .text(
                        "ExpirationModel",
                        "--expiration-model",
                        a.expiration_model.as_ref(),
                    )?
                    .text("ImportType", "--import-type", a.import_type.as_ref())?
                    .text(
                        "KeyMaterialDescription",
                        "--key-material-description",
                        a.key_material_description.as_ref(),
                    )?
                    .text(
                        "KeyMaterialId",
                        "--key-material-id",
                        a.key_material_id.as_ref(),
                    )?;
                single("ImportKeyMaterial", r.done())
            }
            V::DeleteImportedKeyMaterial(a) => {
                let r = key(&a.key)?.text(
                    "KeyMaterialId",
                    "--key-material-id",
                    a.key_material_id.as_ref(),
                )?;
                single("DeleteImportedKeyMaterial", r.done())
            }
            V::RotateKeyOnDemand(a) => single("RotateKeyOnDemand", key(&a.key)?.done()),
            V::GetKeyRotationStatus(a) => single("GetKeyRotationStatus", key(&a.key)?.done()),
            V::ListKeyRotations(a) => {
                let r = key(&a.key)?.text(
                    "IncludeKeyMaterial",
                    "--include-key-material",
                    a.include_key_material.as_ref(),
                )?;
                let (body, p) = paged(r, &a.paging, "Rotations", no_paginate);
                Call {
                    operation: "ListKeyRotations",
                    body,
                    paginate: p,
                }
            }
            V::EnableKeyRotation(a) => {
                let r = key(&a.key)?.int("RotationPeriodInDays", a.rotation_period_in_days);
                single("EnableKeyRotation", r.done())
            }
            V::DisableKeyRotation(a) => single("DisableKeyRotation", key(&a.key)?.done()),
            V::Encrypt(a) => {
                let r = key(&a.key)?
                    .blob("Plaintext", "--plaintext", &a.plaintext, binary)?
                    .context(
                        "EncryptionContext",
                        "--encryption-context",
                        a.encryption_context.as_ref(),
                    )?;
                let r = grants(r, &a.grants)?
                    .text(
                        "EncryptionAlgorithm",
                        "--encryption-algorithm",
                        a.encryption_algorithm.as_ref(),
                    )?
                    .bool("DryRun", a.dry_run.value());
                single("Encrypt", r.done())
            }
            V::Decrypt(a) => {
                let r = Request::default()
                    .blob(
                        "CiphertextBlob",
                        "--ciphertext-blob",
                        &a.ciphertext_blob,
                        binary,
                    )?
                    .context(
                        "EncryptionContext",
                        "--encryption-context",
                        a.encryption_context.as_ref(),
                    )?;
                let r = grants(r, &a.grants)?
                    .text("KeyId", "--key-id", a.key_id.as_ref())?
                    .text(
                        "EncryptionAlgorithm",
                        "--encryption-algorithm",
                        a.encryption_algorithm.as_ref(),
                    )?
                    .bool("DryRun", a.dry_run.value());
                single("Decrypt", r.done())
            }
            V::ReEncrypt(a) => {
                let r = Request::default()
                    .blob(
                        "CiphertextBlob",
                        "--ciphertext-blob",
                        &a.ciphertext_blob,
                        binary,
                    )?
                    .context(
                        "SourceEncryptionContext",
                        "--source-encryption-context",
                        a.source_encryption_context.as_ref(),
                    )?
                    .text("SourceKeyId", "--source-key-id", a.source_key_id.as_ref())?
                    .text(
                        "DestinationKeyId",
                        "--destination-key-id",
                        Some(&a.destination_key_id),
                    )?
                    .context(
                        "DestinationEncryptionContext",
                        "--destination-encryption-context",
                        a.destination_encryption_context.as_ref(),
                    )?
                    .text(
                        "SourceEncryptionAlgorithm",
                        "--source-encryption-algorithm",
                        a.source_encryption_algorithm.as_ref(),
                    )?
                    .text(
                        "DestinationEncryptionAlgorithm",
                        "--destination-encryption-algorithm",
                        a.destination_encryption_algorithm.as_ref(),
                    )?;
                let r = grants(r, &a.grants)?.bool("DryRun", a.dry_run.value());
                single("ReEncrypt", r.done())
            }
            V::GenerateDataKey(a) | V::GenerateDataKeyWithoutPlaintext(a) => {
                let operation = if matches!(self, V::GenerateDataKey(_)) {
                    "GenerateDataKey"
                } else {
                    "GenerateDataKeyWithoutPlaintext"
                };
                let r = key(&a.key)?
                    .context(
                        "EncryptionContext",
                        "--encryption-context",
                        a.encryption_context.as_ref(),
                    )?
                    .int("NumberOfBytes", a.number_of_bytes)
                    .text("KeySpec", "--key-spec", a.key_spec.as_ref())?;
                let r = grants(r, &a.grants)?.bool("DryRun", a.dry_run.value());
                single(operation, r.done())
            }
            V::GenerateMac(a) => {
                let r = Request::default()
                    .text("KeyId", "--key-id", Some(&a.key_id))?
                    .blob("Message", "--message", &a.message, binary)?
                    .text("MacAlgorithm", "--mac-algorithm", Some(&a.mac_algorithm))?;
                let r = grants(r, &a.grants)?.bool("DryRun", a.dry_run.value());
                single("GenerateMac", r.done())
            }
            V::VerifyMac(a) => {
                let r = Request::default()
                    .text("KeyId", "--key-id", Some(&a.key_id))?
                    .blob("Message", "--message", &a.message, binary)?
                    .text("MacAlgorithm", "--mac-algorithm", Some(&a.mac_algorithm))?
                    .blob("Mac", "--mac", &a.mac, binary)?;
                let r = grants(r, &a.grants)?.bool("DryRun", a.dry_run.value());
                single("VerifyMac", r.done())
            }
            V::GenerateDataKeyPair(a) | V::GenerateDataKeyPairWithoutPlaintext(a) => {
                let operation = if matches!(self, V::GenerateDataKeyPair(_)) {
                    "GenerateDataKeyPair"
                } else {
                    "GenerateDataKeyPairWithoutPlaintext"
                };
                let r = Request::default()
                    .text("KeyId", "--key-id", Some(&a.key_id))?
                    .text("KeyPairSpec", "--key-pair-spec", Some(&a.key_pair_spec))?
                    .context(
                        "EncryptionContext",
                        "--encryption-context",
                        a.encryption_context.as_ref(),
                    )?;
                let r = grants(r, &a.grants)?.bool("DryRun", a.dry_run.value());
                single(operation, r.done())
            }
            V::GetPublicKey(a) => single("GetPublicKey", key(&a.key)?.done()),
            V::Sign(a) => {
                let r = Request::default()
                    .text("KeyId", "--key-id", Some(&a.key_id))?
                    .blob("Message", "--message", &a.message, binary)?
                    .text("MessageType", "--message-type", a.message_type.as_ref())?
                    .text(
                        "SigningAlgorithm",
                        "--signing-algorithm",
                        Some(&a.signing_algorithm),
                    )?;
                let r = grants(r, &a.grants)?.bool("DryRun", a.dry_run.value());
                single("Sign", r.done())
            }
            V::Verify(a) => {
                let r = Request::default()
                    .text("KeyId", "--key-id", Some(&a.key_id))?
                    .blob("Message", "--message", &a.message, binary)?
                    .text("MessageType", "--message-type", a.message_type.as_ref())?
                    .blob("Signature", "--signature", &a.signature, binary)?
                    .text(
                        "SigningAlgorithm",
                        "--signing-algorithm",
                        Some(&a.signing_algorithm),
                    )?;
                let r = grants(r, &a.grants)?.bool("DryRun", a.dry_run.value());
                single("Verify", r.done())
            }
            V::DeriveSharedSecret(a) => {
                let r = Request::default()
                    .text("KeyId", "--key-id", Some(&a.key_id))?
                    .text(
                        "KeyAgreementAlgorithm",
                        "--key-agreement-algorithm",
                        Some(&a.key_agreement_algorithm),
                    )?
                    .blob("PublicKey", "--public-key", &a.public_key, binary)?;
                let r = grants(r, &a.grants)?.bool("DryRun", a.dry_run.value());
                single("DeriveSharedSecret", r.done())
            }
            V::EnableKey(a) => single("EnableKey", key(&a.key)?.done()),
            V::DisableKey(a) => single("DisableKey", key(&a.key)?.done()),
            V::ScheduleKeyDeletion(a) => {
                let r = key(&a.key)?.int("PendingWindowInDays", a.pending_window_in_days);
                single("ScheduleKeyDeletion", r.done())
            }
            V::CancelKeyDeletion(a) => single("CancelKeyDeletion", key(&a.key)?.done()),
            V::ReplicateKey(a) => {
                let r = key(&a.key)?
                    .text("ReplicaRegion", "--replica-region", Some(&a.replica_region))?
                    .text("Policy", "--policy", a.policy.as_ref())?
                    .bool(
                        "BypassPolicyLockoutSafetyCheck",
                        a.bypass_policy_lockout_safety_check.then_some(true),
                    )
                    .text("Description", "--description", a.description.as_ref())?
                    .tags("Tags", "--tags", &a.tags)?;
                single("ReplicateKey", r.done())
            }
            V::UpdatePrimaryRegion(a) => {
                let r = key(&a.key)?.text(
                    "PrimaryRegion",
                    "--primary-region",
                    Some(&a.primary_region),
                )?;
                single("UpdatePrimaryRegion", r.done())
            }
            V::CreateAlias(a) | V::UpdateAlias(a) => {
                let operation = if matches!(self, V::CreateAlias(_)) {
                    "CreateAlias"
                } else {
                    "UpdateAlias"
                };
                let r = Request::default()
                    .text("AliasName", "--alias-name", Some(&a.alias_name))?
                    .text("TargetKeyId", "--target-key-id", Some(&a.target_key_id))?;
                single(operation, r.done())
            }
            V::DeleteAlias(a) => {
                let r =
                    Request::default().text("AliasName", "--alias-name", Some(&a.alias_name))?;
                single("DeleteAlias", r.done())
            }
            V::ListAliases(a) => {
                let r = Request::default().text("KeyId", "--key-id", a.key_id.as_ref())?;
                let (body, p) = paged(r, &a.paging, "Aliases", no_paginate);
                Call {
                    operation: "ListAliases",
                    body,
                    paginate: p,
                }
            }
            V::TagResource(a) => single(
                "TagResource",
                key(&a.key)?.tags("Tags", "--tags", &a.tags)?.done(),
            ),
            V::UntagResource(a) => {
                let r = key(&a.key)?.list("TagKeys", "--tag-keys", &a.tag_keys)?;
                single("UntagResource", r.done())
            }
            V::ListResourceTags(a) => {
                let (body, p) = paged(key(&a.key)?, &a.paging, "Tags", no_paginate);
                Call {
                    operation: "ListResourceTags",
                    body,
                    paginate: p,
                }
            }
            V::UpdateKeyDescription(a) => {
                let r = key(&a.key)?.text("Description", "--description", Some(&a.description))?;
                single("UpdateKeyDescription", r.done())
            }
            V::GenerateRandom(a) => {
                let r = Request::default()
                    .int("NumberOfBytes", a.number_of_bytes)
                    .text(
                        "CustomKeyStoreId",
                        "--custom-key-store-id",
                        a.custom_key_store_id.as_ref(),
                    )?;
                single("GenerateRandom", r.done())
            }
            V::DescribeCustomKeyStores(a) => {
                let r = Request::default()
                    .text(
                        "CustomKeyStoreId",
                        "--custom-key-store-id",
                        a.custom_key_store_id.as_ref(),
                    )?
                    .text(
                        "CustomKeyStoreName",
                        "--custom-key-store-name",
                        a.custom_key_store_name.as_ref(),
                    )?;
                let (body, p) = paged(r, &a.paging, "CustomKeyStores", no_paginate);
                Call {
                    operation: "DescribeCustomKeyStores",
                    body,
                    paginate: p,
                }
            }
            V::GetKeyPolicy(a) => {
                let r = key(&a.key)?.text("PolicyName", "--policy-name", a.policy_name.as_ref())?;
                single("GetKeyPolicy", r.done())
            }
            V::PutKeyPolicy(a) => {
                let r = key(&a.key)?
                    .text("PolicyName", "--policy-name", a.policy_name.as_ref())?
                    .text("Policy", "--policy", Some(&a.policy))?
                    .bool(
                        "BypassPolicyLockoutSafetyCheck",
                        a.bypass_policy_lockout_safety_check.then_some(true),
                    );
                single("PutKeyPolicy", r.done())
            }
            V::ListKeyPolicies(a) => {
                let (body, p) = paged(key(&a.key)?, &a.paging, "PolicyNames", no_paginate);
                Call {
                    operation: "ListKeyPolicies",
                    body,
                    paginate: p,
                }
            }
        })
    }
}

/// Runs `call` on `backend`. A list operation without --limit/--marker
/// fetches every page and prints `{<items>: [...]}` alone, as the AWS CLI's
/// automatic pagination does.
pub fn run(backend: &dyn Backend, call: &Call) -> Result<Json, BackendError> {
    let Some((result_key, page_size)) = call.paginate else {
        let out = backend.call(call.operation, &body_bytes(&call.body))?;
        return parse_response(call.operation, &out);
    };
    let mut items = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let Json::Object(mut members) = call.body.clone() else {
            return Err(BackendError::Request {
                operation: call.operation.to_string(),
                detail: "request is not an object".into(),
            });
        };
        if let Some(n) = page_size {
            members.push(("Limit".into(), Json::Number(n.into())));
        }
        if let Some(m) = &marker {
            members.push(("Marker".into(), Json::str(m.clone())));
        }
        let out = backend.call(call.operation, &body_bytes(&Json::Object(members)))?;
        let page = parse_response(call.operation, &out)?;
        if let Some(Json::Array(page_items)) = page.get(result_key) {
            items.extend(page_items.iter().cloned());
        }
        let truncated = matches!(page.get("Truncated"), Some(Json::Bool(true)));
        let next = page
            .get("NextMarker")
            .and_then(Json::as_str)
            .map(str::to_string);
        match next {
            Some(n) if truncated && marker.as_deref() != Some(n.as_str()) => marker = Some(n),
            _ => break,
        }
    }
    Ok(Json::Object(vec![(
        result_key.to_string(),
        Json::Array(items),
    )]))
}

fn body_bytes(body: &Json) -> zeroize::Zeroizing<Vec<u8>> {
    zeroize::Zeroizing::new(serde_json::to_vec(body).unwrap_or_default())
}

fn parse_response(operation: &str, out: &[u8]) -> Result<Json, BackendError> {
    Json::parse(out).map_err(|e| BackendError::Response {
        operation: operation.to_string(),
        detail: format!("unreadable response: {e}"),
    })
}
