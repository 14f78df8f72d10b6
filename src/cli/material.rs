//! `byok material ...`: the custodian's side of an import, without OpenSSL —
//! generate 32 bytes of material, wrap them for GetParametersForImport's
//! public key, and compute the key check value and the KeyMaterialId they
//! will have in a key.

use std::path::PathBuf;

use base64::Engine;
use clap::Subcommand;
use rand::Rng;
use zeroize::Zeroizing;

use super::output::Json;
use super::{CliError, Global, Printer, read_file, write_private_file};
use crate::kms::material::{MATERIAL_LEN, key_check_value, key_material_id};
use crate::kms::{Caller, KeyId, WrappingAlgorithm, wrap_material};

/// `byok material` commands.
#[derive(Subcommand, Debug)]
pub enum MaterialCommand {
    /// Writes 32 random bytes of key material to a new file (mode 0600);
    /// --bytes N for an HMAC key (28-128).
    Generate {
        /// The file to create (e.g. KeyMaterial.bin).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// How many bytes: 32 (the default) for a symmetric encryption key;
        /// for an HMAC key a length its key spec takes (HMAC_224: 28-64,
        /// HMAC_256: 32-64, HMAC_384: 48-128, HMAC_512: 64-128).
        #[arg(long, value_name = "N", default_value_t = MATERIAL_LEN)]
        bytes: usize,
        /// Replace the file if it exists.
        #[arg(long)]
        force: bool,
    },
    /// Wraps key material for import under a PublicKey from get-parameters-for-import.
    Wrap {
        /// The wrapping public key: DER (PublicKey.bin) or PEM.
        #[arg(long, value_name = "FILE")]
        public_key: PathBuf,
        /// The algorithm given to get-parameters-for-import (RSAES_OAEP_SHA_256,
        /// RSAES_OAEP_SHA_1, RSA_AES_KEY_WRAP_SHA_256, RSA_AES_KEY_WRAP_SHA_1).
        #[arg(long, value_name = "ALGORITHM")]
        wrapping_algorithm: String,
        /// The key material (e.g. KeyMaterial.bin): 32 bytes, or 28-128 for
        /// an HMAC key.
        #[arg(long = "in", value_name = "FILE")]
        input: PathBuf,
        /// Where to write the wrapped material (e.g. EncryptedKeyMaterial.bin).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Prints the key check value of a material file and, given --key-id,
    /// the KeyMaterialId it has in that key.
    Check {
        /// The 32-byte key material.
        #[arg(long = "in", value_name = "FILE")]
        input: PathBuf,
        /// A key ID or key ARN (an alias needs the store).
        #[arg(long, value_name = "KEY")]
        key_id: Option<String>,
    },
}

/// The lengths of material some key spec takes: 32 bytes for a symmetric
/// encryption key, 28 to 128 for the HMAC specs (AWS KMS Developer Guide,
/// "Requirements for imported key material";
/// [`crate::kms::KeySpec::material_lengths`]).
fn any_spec_takes(len: usize) -> bool {
    crate::kms::KeySpec::ALL
        .iter()
        .filter(|s| !s.is_asymmetric())
        .any(|s| s.material_lengths().contains(&len))
}

/// Whether `bytes` is material some key spec takes: a length a symmetric or
/// HMAC key takes, or a DER PKCS #8 private key of an asymmetric key spec
/// (`openssl pkcs8 -topk8 -outform der -nocrypt`).
fn any_spec_takes_material(bytes: &[u8]) -> bool {
    any_spec_takes(bytes.len())
        || crate::kms::KeySpec::ALL
            .iter()
            .filter(|s| s.is_asymmetric())
            .any(|s| crate::kms::asym::AsymmetricKey::from_pkcs8(*s, bytes).is_ok())
}

fn wrong_length(path: &std::path::Path, len: usize) -> CliError {
    CliError::Failed(format!(
        "{} is {len} bytes; key material must be exactly {MATERIAL_LEN} bytes (256 bits), \
         as `byok material generate` or `openssl rand -out FILE 32` writes it, or for an \
         HMAC key 28 to 128 bytes as its key spec takes (HMAC_224: 28-64, HMAC_256: 32-64, \
         HMAC_384: 48-128, HMAC_512: 64-128), or for an asymmetric key a DER PKCS #8 private key \
         (openssl pkcs8 -topk8 -outform der -nocrypt)",
        path.display()
    ))
}

/// Reads a material file of a length some key spec takes.
fn read_any_material(path: &std::path::Path) -> Result<Zeroizing<Vec<u8>>, CliError> {
    let bytes = read_file("--in", path)?;
    if !any_spec_takes_material(&bytes) {
        return Err(wrong_length(path, bytes.len()));
    }
    Ok(bytes)
}

/// Reads a material file: exactly 32 bytes.
fn read_material(path: &std::path::Path) -> Result<Zeroizing<[u8; MATERIAL_LEN]>, CliError> {
    let bytes = read_file("--in", path)?;
    if bytes.len() != MATERIAL_LEN {
        return Err(CliError::Failed(format!(
            "{} is {} bytes; key material must be exactly {MATERIAL_LEN} bytes (256 bits), \
             as `byok material generate` or `openssl rand -out FILE 32` writes it",
            path.display(),
            bytes.len()
        )));
    }
    let mut m = Zeroizing::new([0u8; MATERIAL_LEN]);
    m.copy_from_slice(&bytes);
    Ok(m)
}

/// The public key as DER: the file as is, or the body of a PEM file.
fn public_key_der(bytes: &[u8]) -> Vec<u8> {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return bytes.to_vec();
    };
    if !text.contains("-----BEGIN PUBLIC KEY-----") {
        return bytes.to_vec();
    }
    let body: String = text
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .flat_map(|l| l.trim().chars())
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .unwrap_or_else(|_| bytes.to_vec())
}

/// Resolves `--key-id` to a key id: a key ID or ARN directly; an alias
/// through the store.
fn resolve_key(key: &str, g: &Global) -> Result<KeyId, CliError> {
    let direct = key.rsplit_once(":key/").map_or(key, |(_, id)| id);
    if let Some(id) = KeyId::parse(direct) {
        return Ok(id);
    }
    if !key.starts_with("alias/") && !key.contains(":alias/") {
        return Err(CliError::Usage(format!(
            "--key-id {key} is not a key ID, key ARN or alias"
        )));
    }
    let mut vault = super::open_store(g, false)?;
    let body = serde_json::to_vec(&serde_json::json!({ "KeyId": key })).unwrap_or_default();
    let result = vault.call(&Caller::cli(), "DescribeKey", &body);
    vault.close()?;
    let out = result.map_err(|error| CliError::Service {
        operation: "DescribeKey".into(),
        error,
    })?;
    Json::parse(&out)
        .ok()
        .and_then(|j| {
            j.get("KeyMetadata")?
                .get("KeyId")?
                .as_str()
                .and_then(KeyId::parse)
        })
        .ok_or_else(|| CliError::Failed(format!("cannot resolve {key}")))
}

/// Runs a `material` command.
pub fn run(cmd: MaterialCommand, g: &Global, out: &Printer) -> Result<(), CliError> {
    match cmd {
        MaterialCommand::Generate {
            out: path,
            force,
            bytes,
        } if bytes != MATERIAL_LEN => {
            if !any_spec_takes(bytes) {
                return Err(CliError::Usage(format!(
                    "--bytes {bytes}: key material is 32 bytes for a symmetric encryption key, \
                     or 28 to 128 bytes for an HMAC key"
                )));
            }
            let mut material = Zeroizing::new(vec![0u8; bytes]);
            rand::rng().fill_bytes(&mut material[..]);
            write_private_file(&path, &material[..], force)?;
            out.print(
                Json::Object(vec![
                    ("File".into(), Json::str(path.display().to_string())),
                    ("Bytes".into(), Json::Number(bytes.into())),
                ]),
                "GenerateMaterial",
            )
        }
        MaterialCommand::Generate {
            out: path, force, ..
        } => {
            let mut material = Zeroizing::new([0u8; MATERIAL_LEN]);
            rand::rng().fill_bytes(&mut material[..]);
            write_private_file(&path, &material[..], force)?;
            let kcv = key_check_value(&material);
            out.print(
                Json::Object(vec![
                    ("File".into(), Json::str(path.display().to_string())),
                    ("KeyCheckValue".into(), Json::str(kcv)),
                ]),
                "GenerateMaterial",
            )
        }
        MaterialCommand::Wrap {
            public_key,
            wrapping_algorithm,
            input,
            out: path,
        } => {
            let algorithm = WrappingAlgorithm::parse_member(
                "wrappingAlgorithm",
                &wrapping_algorithm,
            )
            .map_err(|_| {
                CliError::Usage(format!(
                    "--wrapping-algorithm {wrapping_algorithm} is not one of RSAES_OAEP_SHA_256, \
                         RSAES_OAEP_SHA_1, RSA_AES_KEY_WRAP_SHA_256, RSA_AES_KEY_WRAP_SHA_1"
                ))
            })?;
            let key_bytes = read_file("--public-key", &public_key)?;
            let material = read_any_material(&input)?;
            let der = public_key_der(&key_bytes);
            let wrapped = wrap_material(&der, algorithm, &material[..], &mut rand::rng())
                .map_err(|e| match e {
                    crate::kms::WrapError::BadPublicKey => {
                        let hint = if key_bytes.iter().all(|b| b.is_ascii_graphic() || b.is_ascii_whitespace()) {
                            " (this file is text: decode the base64 first, e.g. `cut -f1 params.txt | base64 -d > PublicKey.bin`)"
                        } else {
                            ""
                        };
                        CliError::Failed(format!("{}: {e}{hint}", public_key.display()))
                    }
                    crate::kms::WrapError::UnsupportedAlgorithm => CliError::Usage(e.to_string()),
                    other => CliError::Failed(other.to_string()),
                })?;
            crate::store::files::write_private(&path, &wrapped).map_err(|e| {
                CliError::Failed(format!(
                    "cannot write {}: {}",
                    path.display(),
                    super::io_reason(&e)
                ))
            })?;
            out.print(
                Json::Object(vec![
                    ("File".into(), Json::str(path.display().to_string())),
                    ("WrappingAlgorithm".into(), Json::str(algorithm.as_str())),
                    ("Bytes".into(), Json::Number(wrapped.len().into())),
                ]),
                "WrapMaterial",
            )
        }
        MaterialCommand::Check { input, key_id } => {
            let material = read_material(&input)?;
            let mut members = vec![(
                "KeyCheckValue".to_string(),
                Json::str(key_check_value(&material)),
            )];
            if let Some(key) = key_id {
                let id = resolve_key(&key, g)?;
                members.push(("KeyId".into(), Json::str(id.to_string())));
                members.push((
                    "KeyMaterialId".into(),
                    Json::str(key_material_id(id, &material[..]).to_string()),
                ));
            }
            out.print(Json::Object(members), "CheckMaterial")
        }
    }
}
