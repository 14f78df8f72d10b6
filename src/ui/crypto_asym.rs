//! The cryptography panel's cards for asymmetric keys: Sign and Verify
//! for SIGN_VERIFY keys (with the key's own SigningAlgorithms),
//! DeriveSharedSecret for KEY_AGREEMENT keys, and GetPublicKey for every
//! RSA and elliptic-curve key, shown as PEM and saved as PEM or DER, so a
//! signature or a ciphertext can be checked outside KMS (`openssl dgst
//! -verify`, `openssl pkeyutl -encrypt`).
//!
//! RSA encryption keys use the panel's Encrypt and Decrypt cards, which
//! ask the EncryptionAlgorithm; this file holds what those cards do not.

use std::path::PathBuf;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use egui::{RichText, Ui};
use zeroize::Zeroizing;

use super::action::{Action, Owner, PickTarget};
use super::crypto::{decode_base64, pending_line};
use super::theme;
use super::view::{KeyRef, KeyView};
use super::worker::{Async, Job, Jobs, Outcome, PublicKeyAnswer, SignatureAnswer, Ticket, UiError};
use crate::kms::{SecretText, SecretVec};

/// Sign's result as shown.
#[derive(Clone, Debug)]
pub struct Signed {
    /// The signature, base64.
    pub signature_b64: String,
    /// `SigningAlgorithm`.
    pub algorithm: String,
    /// The key (ARN).
    pub key: String,
}

/// GetPublicKey's result as shown.
#[derive(Clone, Debug)]
pub struct PublicKeyShown {
    /// The key it belongs to (the panel shows it for that key only).
    pub for_key: KeyRef,
    /// DER SubjectPublicKeyInfo.
    pub der: Vec<u8>,
    /// The same as a PEM `PUBLIC KEY`.
    pub pem: String,
    /// `KeySpec` · `KeyUsage`.
    pub spec: String,
}

/// DeriveSharedSecret's result as shown.
#[derive(Clone, Debug)]
pub struct SharedSecretShown {
    /// The shared secret, base64.
    pub secret_b64: SecretText,
    /// `KeyAgreementAlgorithm`.
    pub algorithm: String,
}

/// The encoding a public key is saved in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PublicKeyFormat {
    /// `-----BEGIN PUBLIC KEY-----` text (what `openssl` reads by default).
    Pem,
    /// The DER SubjectPublicKeyInfo GetPublicKey returns.
    Der,
}

impl PublicKeyFormat {
    fn label(self) -> &'static str {
        match self {
            PublicKeyFormat::Pem => "PEM",
            PublicKeyFormat::Der => "DER",
        }
    }
}

/// The asymmetric cards' state.
pub struct AsymPanel {
    /// The message to sign or verify.
    pub message: Zeroizing<String>,
    /// Whether the message is a digest in hex (`MessageType` DIGEST).
    pub digest: bool,
    signing_algorithm: String,
    signed: Async<Signed>,
    /// The signature to verify, base64.
    pub signature_to_verify: String,
    /// Verify's answer: the algorithm it checked with.
    verified: Async<String>,
    public_key: Async<PublicKeyShown>,
    /// The key GetPublicKey was asked about.
    pending_public_key: Option<KeyRef>,
    /// Where to save the public key.
    pub public_key_path: String,
    public_key_format: PublicKeyFormat,
    saved: Async<String>,
    /// The peer's public key: PEM, or DER in base64.
    pub peer_key: String,
    shared: Async<SharedSecretShown>,
}

impl Default for AsymPanel {
    fn default() -> Self {
        AsymPanel {
            message: Zeroizing::new(String::with_capacity(4096)),
            digest: false,
            signing_algorithm: String::new(),
            signed: Async::Idle,
            signature_to_verify: String::new(),
            verified: Async::Idle,
            public_key: Async::Idle,
            pending_public_key: None,
            public_key_path: String::new(),
            public_key_format: PublicKeyFormat::Pem,
            saved: Async::Idle,
            peer_key: String::new(),
            shared: Async::Idle,
        }
    }
}

/// A DER SubjectPublicKeyInfo as PEM (RFC 7468 `PUBLIC KEY`).
pub fn public_key_pem(der: &[u8]) -> String {
    pem_rfc7468::encode_string("PUBLIC KEY", pem_rfc7468::LineEnding::LF, der).unwrap_or_default()
}

/// A peer's public key as DER: PEM `PUBLIC KEY` text, or base64 of DER.
fn peer_key_der(text: &str) -> Result<Vec<u8>, UiError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(UiError::plain(
            "Paste the other party's public key (PEM, or DER in base64).",
            "",
        ));
    }
    if text.starts_with("-----BEGIN") {
        return match pem_rfc7468::decode_vec(text.as_bytes()) {
            Ok(("PUBLIC KEY", der)) => Ok(der),
            Ok((label, _)) => Err(UiError::plain(
                "This PEM is not a public key.",
                format!("its label is {label}; DeriveSharedSecret takes a PUBLIC KEY"),
            )),
            Err(e) => Err(UiError::plain("This PEM text is damaged.", e.to_string())),
        };
    }
    decode_base64(text, "The public key is neither PEM nor base64.")
}

/// The message's bytes: the text, or the digest its hex spells.
fn message_bytes(text: &str, digest: bool) -> Result<SecretVec, UiError> {
    if !digest {
        return Ok(SecretVec::new(text.as_bytes().to_vec()));
    }
    let hex: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    if !hex.len().is_multiple_of(2) || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(UiError::plain(
            "A digest is written in hexadecimal, two digits per byte.",
            "for example the output of sha256sum",
        ));
    }
    let bytes = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap_or_default())
        .collect();
    Ok(SecretVec::new(bytes))
}

/// A card whose text wraps at word boundaries: the panel's columns are
/// justified, which would stretch a wrapped label letter by letter.
fn card(ui: &mut Ui, add: impl FnOnce(&mut Ui)) {
    theme::card(ui).show(ui, |ui| {
        ui.set_width(ui.available_width());
        ui.with_layout(egui::Layout::top_down(egui::Align::Min), add);
    });
}

impl AsymPanel {
    fn owns(&self, ticket: Ticket) -> bool {
        [
            self.signed.ticket(),
            self.verified.ticket(),
            self.public_key.ticket(),
            self.saved.ticket(),
            self.shared.ticket(),
        ]
        .contains(&Some(ticket))
    }

    /// A job's result, when it is one of these cards'; gives it back
    /// otherwise.
    pub fn finished(
        &mut self,
        ticket: Ticket,
        outcome: Result<Outcome, UiError>,
    ) -> Option<Result<Outcome, UiError>> {
        if !self.owns(ticket) {
            return Some(outcome);
        }
        match outcome {
            Ok(Outcome::Signature(out)) => self.signature_answered(ticket, out),
            Ok(Outcome::PublicKey(out)) => self.public_key_answered(ticket, out),
            Ok(Outcome::SharedSecret(out)) => {
                self.shared.finish(
                    ticket,
                    Ok(SharedSecretShown {
                        secret_b64: SecretText::new(B64.encode(out.secret.expose())),
                        algorithm: out.algorithm,
                    }),
                );
            }
            Ok(Outcome::FileWritten(path)) => {
                self.saved.finish(
                    ticket,
                    Ok(format!("Public key saved to {}", path.display())),
                );
            }
            Ok(_) => {}
            Err(e) => {
                let _ = self.signed.finish(ticket, Err(e.clone()))
                    || self.verified.finish(ticket, Err(e.clone()))
                    || self.public_key.finish(ticket, Err(e.clone()))
                    || self.saved.finish(ticket, Err(e.clone()))
                    || self.shared.finish(ticket, Err(e));
            }
        }
        None
    }

    fn signature_answered(&mut self, ticket: Ticket, out: SignatureAnswer) {
        if self.signed.ticket() == Some(ticket) {
            self.signed.finish(
                ticket,
                Ok(Signed {
                    signature_b64: B64.encode(&out.signature),
                    algorithm: out.algorithm,
                    key: out.key,
                }),
            );
        } else if out.valid {
            self.verified.finish(ticket, Ok(out.algorithm));
        } else {
            // AWS answers a bad signature with KMSInvalidSignatureException,
            // never SignatureValid false; an answer saying false is still
            // shown as a failure.
            self.verified.finish(
                ticket,
                Err(UiError::plain(
                    "The signature does not verify.",
                    "Verify answered SignatureValid false",
                )),
            );
        }
    }

    fn public_key_answered(&mut self, ticket: Ticket, out: PublicKeyAnswer) {
        // The key asked about is remembered when the job is submitted.
        let Some(for_key) = self.pending_public_key.take() else {
            self.public_key = Async::Idle;
            return;
        };
        let pem = public_key_pem(&out.der);
        self.public_key.finish(
            ticket,
            Ok(PublicKeyShown {
                for_key,
                der: out.der,
                pem,
                spec: format!("{} · {}", out.key_spec, out.key_usage),
            }),
        );
    }

    /// A picker answered: where to save the public key.
    pub fn picked(&mut self, target: PickTarget, path: PathBuf, jobs: &Jobs) {
        if target == PickTarget::SaveKeyPublicKey {
            self.public_key_path = path.display().to_string();
            self.save_public_key(jobs);
        }
    }

    fn save_public_key(&mut self, jobs: &Jobs) {
        let Some(shown) = self.public_key.value() else {
            return;
        };
        let bytes = match self.public_key_format {
            PublicKeyFormat::Pem => shown.pem.as_bytes().to_vec(),
            PublicKeyFormat::Der => shown.der.clone(),
        };
        let path = PathBuf::from(self.public_key_path.trim());
        self.saved.submit(
            jobs,
            Owner::Crypto,
            Job::WriteFile {
                path,
                bytes: SecretVec::new(bytes),
            },
        );
    }

    /// The key's `SigningAlgorithm` to use: the one chosen, when the key
    /// has it, else the key's first.
    fn signing_algorithm_ui(&mut self, ui: &mut Ui, key: &KeyView) -> Option<String> {
        if !key.signing_algorithms.contains(&self.signing_algorithm) {
            self.signing_algorithm = key.signing_algorithms.first().cloned().unwrap_or_default();
        }
        // The name above the box, not beside it: beside, it wraps letter by
        // letter in a narrow card (1280×720, presentation mode).
        ui.label(theme::weak(ui, "SigningAlgorithm"));
        let current = self.signing_algorithm.clone();
        let combo = egui::ComboBox::from_id_salt("signing-algorithm")
            .selected_text(current.as_str())
            .width(ui.available_width().min(360.0))
            .show_ui(ui, |ui| {
                for a in &key.signing_algorithms {
                    ui.selectable_value(&mut self.signing_algorithm, a.clone(), a.as_str());
                }
            });
        combo.response.widget_info(|| {
            let mut info =
                egui::WidgetInfo::labeled(egui::Role::ComboBox, true, "Signing algorithm");
            info.current_text_value = Some(current.clone());
            info
        });
        (!self.signing_algorithm.is_empty()).then(|| self.signing_algorithm.clone())
    }

    /// The Sign card of a SIGN_VERIFY key.
    pub fn sign_ui(&mut self, ui: &mut Ui, key: &KeyView, jobs: &Jobs, actions: &mut Vec<Action>) {
        card(ui, |ui| {
            ui.label(RichText::new("Sign a message").strong().size(17.0));
            let hint = if self.digest {
                "the message digest, in hex (for example from sha256sum)"
            } else {
                "message (1 to 4096 bytes)"
            };
            let field = ui
                .add(
                    egui::TextEdit::multiline(&mut *self.message)
                        .desired_rows(3)
                        .desired_width(f32::INFINITY)
                        .hint_text(hint),
                )
                .accessible_name("Message to sign");
            // The message is not kept in the undo history.
            if let Some(mut state) = egui::text_edit::TextEditState::load(ui.ctx(), field.id) {
                state.clear_undoer();
                state.store(ui.ctx(), field.id);
            }
            ui.checkbox(
                &mut self.digest,
                "The message is a digest (MessageType DIGEST)",
            )
            .on_hover_text(
                "Sign a hash you computed yourself, for a file larger than 4096 bytes; \
                 its length must match the algorithm's hash (SHA_256: 32 bytes)",
            );
            let algorithm = self.signing_algorithm_ui(ui, key);
            let busy = self.signed.is_pending();
            if ui
                .add_enabled(algorithm.is_some() && !busy, theme::primary("Sign"))
                .on_hover_text("Sign")
                .clicked()
                && let Some(algorithm) = algorithm
            {
                match message_bytes(&self.message, self.digest) {
                    Ok(message) => self.signed.submit(
                        jobs,
                        Owner::Crypto,
                        Job::Sign {
                            key: key.id.clone(),
                            message,
                            message_type: self.message_type().into(),
                            algorithm,
                        },
                    ),
                    Err(e) => self.signed = Async::Failed(e),
                }
            }
            pending_line(ui, self.signed.elapsed(), "Signing");
            if let Some(e) = self.signed.error() {
                theme::error_box(ui, e);
            }
            if let Some(out) = self.signed.value().cloned() {
                ui.label(theme::weak(
                    ui,
                    format!("Signature (base64), {}", out.algorithm),
                ))
                .on_hover_text(format!("Signed with {}", out.key));
                ui.add(
                    egui::TextEdit::singleline(&mut out.signature_b64.as_str())
                        .desired_width(f32::INFINITY)
                        .font(egui::TextStyle::Monospace),
                )
                .accessible_name("Signature (base64)");
                ui.horizontal(|ui| {
                    if ui.button("🗐 Copy signature").clicked() {
                        actions.push(Action::Copy(out.signature_b64.clone()));
                        actions.push(Action::Notify("Signature copied".into()));
                    }
                    if ui
                        .button("Use in Verify ›")
                        .on_hover_text("Put this signature into the Verify box")
                        .clicked()
                    {
                        self.signature_to_verify = out.signature_b64.clone();
                        self.signing_algorithm = out.algorithm.clone();
                        self.verified.clear();
                    }
                });
            }
        });
    }

    fn message_type(&self) -> &'static str {
        if self.digest { "DIGEST" } else { "RAW" }
    }

    /// The Verify card of a SIGN_VERIFY key (the message and algorithm are
    /// the Sign card's).
    pub fn verify_ui(&mut self, ui: &mut Ui, key: &KeyView, jobs: &Jobs) {
        card(ui, |ui| {
            ui.label(RichText::new("Verify a signature").strong().size(17.0));
            ui.label(theme::weak(
                ui,
                "Verify checks the signature below against the message and SigningAlgorithm of the Sign card.",
            ));
            ui.add(
                egui::TextEdit::singleline(&mut self.signature_to_verify)
                    .desired_width(f32::INFINITY)
                    .font(egui::TextStyle::Monospace)
                    .hint_text("signature (base64)"),
            )
            .accessible_name("Signature to verify (base64)");
            let busy = self.verified.is_pending();
            let algorithm =
                (!self.signing_algorithm.is_empty()).then(|| self.signing_algorithm.clone());
            if ui
                .add_enabled(
                    algorithm.is_some() && !busy && !self.signature_to_verify.trim().is_empty(),
                    theme::primary("Verify signature"),
                )
                .on_hover_text("Verify")
                .clicked()
                && let Some(algorithm) = algorithm
            {
                let signature = decode_base64(
                    &self.signature_to_verify,
                    "The signature is not base64 text.",
                );
                match (signature, message_bytes(&self.message, self.digest)) {
                    (Ok(signature), Ok(message)) => self.verified.submit(
                        jobs,
                        Owner::Crypto,
                        Job::Verify {
                            key: key.id.clone(),
                            message,
                            message_type: self.message_type().into(),
                            algorithm,
                            signature,
                        },
                    ),
                    (Err(e), _) | (_, Err(e)) => self.verified = Async::Failed(e),
                }
            }
            pending_line(ui, self.verified.elapsed(), "Verifying");
            if let Some(e) = self.verified.error() {
                theme::error_box(ui, e);
            }
            if let Some(algorithm) = self.verified.value() {
                ui.label(
                    theme::colored(
                        ui,
                        format!("✔ SignatureValid: the signature verifies ({algorithm})"),
                        theme::GREEN,
                    )
                    .strong(),
                );
            }
        });
    }

    /// The card for a KEY_AGREEMENT key: DeriveSharedSecret with a peer's
    /// public key.
    pub fn derive_ui(&mut self, ui: &mut Ui, key: &KeyView, jobs: &Jobs) {
        card(ui, |ui| {
            ui.label(RichText::new("Derive a shared secret").strong().size(17.0));
            ui.label(theme::weak(
                ui,
                format!(
                    "DeriveSharedSecret ({}) with the other party's public key, on the same curve ({}).",
                    key.key_agreement_algorithms.join(", "),
                    key.key_spec_text
                ),
            ));
            ui.add(
                egui::TextEdit::multiline(&mut self.peer_key)
                    .desired_rows(4)
                    .desired_width(f32::INFINITY)
                    .font(egui::TextStyle::Monospace)
                    .hint_text("-----BEGIN PUBLIC KEY----- … or DER in base64"),
            )
            .accessible_name("Other party's public key");
            let busy = self.shared.is_pending();
            if ui
                .add_enabled(
                    !busy && !self.peer_key.trim().is_empty(),
                    theme::primary("Derive shared secret"),
                )
                .on_hover_text("DeriveSharedSecret")
                .clicked()
            {
                match peer_key_der(&self.peer_key) {
                    Ok(peer) => self.shared.submit(
                        jobs,
                        Owner::Crypto,
                        Job::DeriveSharedSecret {
                            key: key.id.clone(),
                            peer,
                        },
                    ),
                    Err(e) => self.shared = Async::Failed(e),
                }
            }
            pending_line(ui, self.shared.elapsed(), "Deriving");
            if let Some(e) = self.shared.error() {
                theme::error_box(ui, e);
            }
            if let Some(out) = self.shared.value() {
                ui.label(theme::weak(
                    ui,
                    format!(
                        "SharedSecret (base64, {}) — the raw ECDH secret: put it through a key derivation function before use",
                        out.algorithm
                    ),
                ));
                ui.add(
                    egui::Label::new(RichText::new(out.secret_b64.expose()).monospace())
                        .wrap_mode(egui::TextWrapMode::Extend)
                        .selectable(true),
                );
            }
        });
    }

    /// The public key card (any asymmetric key): GetPublicKey, shown as PEM,
    /// copied, or saved as PEM or DER.
    pub fn public_key_ui(
        &mut self,
        ui: &mut Ui,
        key: &KeyView,
        jobs: &Jobs,
        actions: &mut Vec<Action>,
    ) {
        card(ui, |ui| {
            ui.label(RichText::new("Public key").strong().size(17.0));
            ui.label(theme::weak(
                ui,
                "GetPublicKey: share it to verify signatures or encrypt outside KMS. The private key never leaves.",
            ));
            let busy = self.public_key.is_pending();
            if ui
                .add_enabled(!busy, egui::Button::new("Get public key"))
                .on_hover_text("GetPublicKey")
                .clicked()
            {
                self.pending_public_key = Some(key.id.clone());
                self.public_key = Async::Idle;
                self.saved.clear();
                self.public_key.submit(
                    jobs,
                    Owner::Crypto,
                    Job::GetPublicKey {
                        key: key.id.clone(),
                    },
                );
            }
            pending_line(ui, self.public_key.elapsed(), "GetPublicKey");
            if let Some(e) = self.public_key.error() {
                theme::error_box(ui, e);
            }
            let Some(shown) = self
                .public_key
                .value()
                .filter(|p| p.for_key == key.id)
                .cloned()
            else {
                return;
            };
            ui.label(theme::weak(
                ui,
                format!("{} — {} bytes DER", shown.spec, shown.der.len()),
            ));
            ui.label(RichText::new("Public key (PEM)").strong());
            // The PEM's own 64-column lines, never re-wrapped (a wrapped
            // line looks like a damaged key): wider than the card, it
            // scrolls.
            egui::ScrollArea::both()
                .id_salt("public-key-pem")
                .max_height(ui.text_style_height(&egui::TextStyle::Monospace) * 12.0)
                .show(ui, |ui| {
                    ui.add(
                        egui::Label::new(RichText::new(shown.pem.as_str()).monospace())
                            .wrap_mode(egui::TextWrapMode::Extend)
                            .selectable(true),
                    );
                });
            ui.horizontal_wrapped(|ui| {
                if ui.button("🗐 Copy PEM").clicked() {
                    actions.push(Action::Copy(shown.pem.clone()));
                    actions.push(Action::Notify("Public key copied".into()));
                }
                ui.label(theme::weak(ui, "Save as"));
                for f in [PublicKeyFormat::Pem, PublicKeyFormat::Der] {
                    ui.radio_value(&mut self.public_key_format, f, f.label());
                }
                if ui
                    .button("Save…")
                    .on_hover_text("Save the public key to a file")
                    .accessible_name("Save public key…")
                    .clicked()
                {
                    actions.push(Action::Pick(PickTarget::SaveKeyPublicKey));
                }
            });
            ui.horizontal(|ui| {
                ui.add(
                    egui::TextEdit::singleline(&mut self.public_key_path)
                        .hint_text("or type a path")
                        .desired_width(260.0),
                )
                .accessible_name("Public key file to write");
                if ui
                    .add_enabled(
                        !self.public_key_path.trim().is_empty() && !self.saved.is_pending(),
                        egui::Button::new("Save public key"),
                    )
                    .clicked()
                {
                    self.save_public_key(jobs);
                }
            });
            if let Some(e) = self.saved.error() {
                theme::error_box(ui, e);
            } else if let Some(text) = self.saved.value() {
                ui.label(theme::colored(ui, format!("✔ {text}"), theme::GREEN));
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_digest_is_read_from_hex_and_refused_otherwise() {
        let d = message_bytes("00ff 10", true).expect("hex");
        assert_eq!(d.expose(), &[0x00, 0xff, 0x10]);
        assert!(message_bytes("abc", true).is_err(), "odd length");
        assert!(message_bytes("zz", true).is_err(), "not hex");
        assert_eq!(message_bytes("zz", false).unwrap().expose(), b"zz");
    }

    #[test]
    fn a_peer_key_is_read_from_pem_or_base64_and_a_private_key_is_refused() {
        let der = vec![0x30, 0x03, 0x02, 0x01, 0x05];
        let pem = public_key_pem(&der);
        assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----\n"));
        assert_eq!(peer_key_der(&pem).unwrap(), der);
        assert_eq!(peer_key_der(&B64.encode(&der)).unwrap(), der);
        let private =
            pem_rfc7468::encode_string("PRIVATE KEY", pem_rfc7468::LineEnding::LF, &der).unwrap();
        let e = peer_key_der(&private).unwrap_err();
        assert!(e.message.contains("PRIVATE KEY"), "{e:?}");
        assert!(peer_key_der("  ").is_err());
    }
}
