//! Parameter values as the AWS CLI v2 reads them: `file://` (text) and
//! `fileb://` (bytes) prefixes, blobs given as base64 (`cli_binary_format`
//! `base64`, v2's default), shorthand (`k=v,k2=v2`, `TagKey=k,TagValue=v`)
//! or JSON for maps and lists of structures.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use zeroize::Zeroizing;

use super::CliError;
use super::output::Json;

fn param_error(flag: &str, message: impl std::fmt::Display) -> CliError {
    CliError::Usage(format!("Error parsing parameter '{flag}': {message}"))
}

fn load(flag: &str, value: &str, prefix: &str) -> Result<Zeroizing<Vec<u8>>, CliError> {
    let path = &value[prefix.len()..];
    std::fs::read(path).map(Zeroizing::new).map_err(|e| {
        param_error(
            flag,
            format!(
                "Unable to load paramfile {value}: {}: '{path}'",
                super::io_reason(&e)
            ),
        )
    })
}

/// A text parameter: the value itself, or the content of `file://F` (or
/// `fileb://F`, which must be UTF-8).
pub fn text(flag: &str, value: &str) -> Result<String, CliError> {
    for prefix in ["file://", "fileb://"] {
        if value.starts_with(prefix) {
            let bytes = load(flag, value, prefix)?;
            return String::from_utf8(bytes.to_vec())
                .map_err(|_| param_error(flag, format!("{value} is not UTF-8 text")));
        }
    }
    Ok(value.to_string())
}

/// `--cli-binary-format`: how a blob parameter given as text is read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum BinaryFormat {
    // The text is base64 (AWS CLI v2's default).
    #[default]
    Base64,
    // The text is the raw value itself, encoded as UTF-8.
    RawInBase64Out,
}

fn encode(bytes: &[u8]) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::with_capacity(bytes.len().div_ceil(3) * 4));
    STANDARD.encode_string(bytes, &mut out);
    out
}

/// A blob parameter as the base64 the request carries: `fileb://F` is read
/// raw and encoded; anything else (a plain value, or the text of `file://F`)
/// is base64 already, as with AWS CLI v2's default binary format, or the raw
/// value with `--cli-binary-format raw-in-base64-out`.
pub fn blob(flag: &str, value: &str, format: BinaryFormat) -> Result<Zeroizing<String>, CliError> {
    if value.starts_with("fileb://") {
        let bytes = load(flag, value, "fileb://")?;
        if bytes.is_empty() {
            return Err(param_error(flag, format!("{value} is empty")));
        }
        return Ok(encode(&bytes));
    }
    let text = Zeroizing::new(text(flag, value)?);
    if format == BinaryFormat::RawInBase64Out {
        return Ok(encode(text.as_bytes()));
    }
    let trimmed: Zeroizing<String> =
        Zeroizing::new(text.chars().filter(|c| !c.is_ascii_whitespace()).collect());
    let mut check = Zeroizing::new(Vec::new());
    if trimmed.is_empty() || STANDARD.decode_vec(trimmed.as_bytes(), &mut check).is_err() {
        let shown = if value.starts_with("file://") {
            format!("the content of {value}")
        } else {
            "the value".to_string()
        };
        return Err(param_error(
            flag,
            format!(
                "Invalid base64: {shown} is not base64. Give binary files as fileb://PATH (for example fileb://ciphertext.bin)"
            ),
        ));
    }
    Ok(trimmed)
}

/// Splits shorthand on commas outside quotes.
fn split_outside_quotes(s: &str, sep: char) -> Vec<String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut quote: Option<char> = None;
    for c in s.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => current.push(c),
            (None, '"' | '\'') => quote = Some(c),
            (None, c) if c == sep => parts.push(std::mem::take(&mut current)),
            (None, c) => current.push(c),
        }
    }
    parts.push(current);
    parts
}

/// `k=v,k2=v2` → pairs. Values may be quoted.
fn shorthand_pairs(flag: &str, s: &str) -> Result<Vec<(String, String)>, CliError> {
    split_outside_quotes(s, ',')
        .into_iter()
        .filter(|p| !p.trim().is_empty())
        .map(|p| {
            p.split_once('=')
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                .ok_or_else(|| {
                    param_error(
                        flag,
                        format!("Expected: '=', received: end of input for input: {s} (write key=value,key2=value2 or JSON)"),
                    )
                })
        })
        .collect()
}

/// A string-to-string map (`--encryption-context`): JSON
/// `{"k":"v"}` or shorthand `k=v,k2=v2`.
pub fn string_map(flag: &str, value: &str) -> Result<Json, CliError> {
    let text = Zeroizing::new(text(flag, value)?);
    let trimmed = text.trim();
    if trimmed.starts_with('{') {
        let map = json(flag, trimmed)?;
        let Json::Object(members) = &map else {
            return Err(param_error(flag, "expected a JSON object"));
        };
        if let Some((k, _)) = members.iter().find(|(_, v)| v.as_str().is_none()) {
            return Err(param_error(
                flag,
                format!("the value of {k:?} must be a string"),
            ));
        }
        return Ok(map);
    }
    let members = shorthand_pairs(flag, trimmed)?
        .into_iter()
        .map(|(k, v)| (k, Json::str(v)))
        .collect();
    Ok(Json::Object(members))
}

fn json(flag: &str, text: &str) -> Result<Json, CliError> {
    Json::parse(text.as_bytes()).map_err(|e| param_error(flag, format!("Invalid JSON: {e}")))
}

/// A list of `Tag` structures (`--tags`): each value shorthand
/// `TagKey=k,TagValue=v`, or one JSON list `[{"TagKey":"k","TagValue":"v"}]`.
pub fn tags(flag: &str, values: &[String]) -> Result<Json, CliError> {
    if let [single] = values {
        let text = text(flag, single)?;
        if text.trim_start().starts_with('[') {
            let list = json(flag, text.trim())?;
            let ok = matches!(&list, Json::Array(items) if items.iter().all(|t| matches!(t, Json::Object(_))));
            if !ok {
                return Err(param_error(
                    flag,
                    "expected a JSON list of {\"TagKey\": ..., \"TagValue\": ...}",
                ));
            }
            return Ok(list);
        }
    }
    let mut out = Vec::new();
    for v in values {
        let mut tag = Vec::new();
        for (k, val) in shorthand_pairs(flag, &text(flag, v)?)? {
            if k != "TagKey" && k != "TagValue" {
                return Err(param_error(
                    flag,
                    format!("Unknown key '{k}', valid choices are: TagKey, TagValue"),
                ));
            }
            tag.push((k, Json::str(val)));
        }
        out.push(Json::Object(tag));
    }
    Ok(Json::Array(out))
}

/// A list of strings (`--tag-keys a b`, or one JSON list `["a","b"]`).
pub fn string_list(flag: &str, values: &[String]) -> Result<Json, CliError> {
    if let [single] = values {
        let text = text(flag, single)?;
        if text.trim_start().starts_with('[') {
            let list = json(flag, text.trim())?;
            let ok =
                matches!(&list, Json::Array(items) if items.iter().all(|t| t.as_str().is_some()));
            if !ok {
                return Err(param_error(flag, "expected a JSON list of strings"));
            }
            return Ok(list);
        }
    }
    values
        .iter()
        .map(|v| text(flag, v).map(Json::str))
        .collect::<Result<_, _>>()
        .map(Json::Array)
}

/// A timestamp (`--valid-to`): ISO 8601 or epoch seconds, sent as epoch seconds.
pub fn timestamp(flag: &str, value: &str) -> Result<Json, CliError> {
    let text = text(flag, value)?;
    let t = crate::kms::Timestamp::parse(&text).ok_or_else(|| {
        param_error(
            flag,
            format!("Invalid timestamp value: {text:?} (use ISO 8601, e.g. 2026-12-31T23:59:59Z, or epoch seconds)"),
        )
    })?;
    let ms = t.millis();
    Ok(if ms % 1000 == 0 {
        Json::Number((ms / 1000).into())
    } else {
        serde_json::Number::from_f64(t.epoch_seconds()).map_or(Json::Null, Json::Number)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shorthand_maps_and_tags() {
        let parse = |s: &str| Json::parse(s.as_bytes()).unwrap();
        assert_eq!(
            string_map("--encryption-context", "a=1,b=\"x,y\"").unwrap(),
            parse(r#"{"a": "1", "b": "x,y"}"#)
        );
        assert_eq!(
            string_map("--encryption-context", r#"{"a":"1"}"#).unwrap(),
            parse(r#"{"a":"1"}"#)
        );
        assert!(string_map("--encryption-context", r#"{"a":1}"#).is_err());
        assert_eq!(
            tags("--tags", &["TagKey=k,TagValue=v".into()]).unwrap(),
            parse(r#"[{"TagKey": "k", "TagValue": "v"}]"#)
        );
        assert!(tags("--tags", &["Key=k".into()]).is_err());
    }

    #[test]
    fn blobs_must_be_base64_unless_fileb() {
        let b64 = BinaryFormat::Base64;
        assert_eq!(
            blob("--plaintext", "aGVsbG8=", b64).unwrap().as_str(),
            "aGVsbG8="
        );
        assert!(blob("--plaintext", "hello!", b64).is_err());
        let raw = BinaryFormat::RawInBase64Out;
        assert_eq!(
            blob("--plaintext", "hello", raw).unwrap().as_str(),
            "aGVsbG8="
        );
        let e = blob("--ciphertext-blob", "fileb:///nonexistent/x.bin", b64).unwrap_err();
        assert!(
            e.to_string()
                .contains("Unable to load paramfile fileb:///nonexistent/x.bin"),
            "{e}"
        );
    }

    #[test]
    fn timestamps_become_epoch_seconds() {
        let secs = Json::Number(1_767_225_600.into());
        assert_eq!(
            timestamp("--valid-to", "2026-01-01T00:00:00Z").unwrap(),
            secs
        );
        assert_eq!(timestamp("--valid-to", "1767225600").unwrap(), secs);
        assert!(timestamp("--valid-to", "tomorrow").is_err());
    }
}
