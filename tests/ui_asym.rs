//! Asymmetric keys in the console's Cryptography tab (issue 8): a private
//! key made with OpenSSL as the AWS Developer Guide does ("Create key
//! material": `openssl genpkey`, then `openssl pkcs8 -topk8 -outform der
//! -nocrypt`) is imported through the wizard, and then
//! - an RSA SIGN_VERIFY key signs in the console, and `openssl dgst
//!   -verify` accepts the signature with the public key the console saves
//!   (GetPublicKey, PEM); an OpenSSL signature verifies with Verify; a
//!   damaged one is refused with AWS's KMSInvalidSignatureException;
//! - an RSA ENCRYPT_DECRYPT key encrypts with RSAES_OAEP_SHA_256 and
//!   `openssl pkeyutl -decrypt` reads the plaintext back; OpenSSL's OAEP
//!   ciphertext decrypts in the console;
//! - an ECC_NIST_P256 KEY_AGREEMENT key derives the secret `openssl
//!   pkeyutl -derive` derives.

#[path = "ui_support/mod.rs"]
mod support;

use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use byok::kms::ManualClock;
use egui_kittest::kittest::Queryable;
use support::*;

/// The value of the field labelled `label`.
fn field(h: &App<'_>, label: &str) -> String {
    h.get_by_label(label).value().unwrap_or_default()
}

/// GetPublicKey in the public key card, saved as PEM to `path`.
fn save_public_key(h: &mut App<'_>, path: &Path) {
    click(h, "Get public key");
    wait_label(h, "Public key (PEM)");
    type_into(h, "Public key file to write", &path.display().to_string());
    click(h, "Save public key");
    wait_part(h, "✔ Public key saved to");
}

#[test]
fn an_rsa_signing_key_signs_and_verifies_in_the_console_as_openssl_does() {
    let (dir, store) = temp();
    let clock = ManualClock::new(START);
    let mut h = console(&store, &clock);
    create_store(&mut h);
    let (pem, der) = private_key(
        dir.path(),
        &["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
    );
    asymmetric_key(&mut h, "Sign and verify", "RSA_2048", &der);
    assert!(
        !shows(&h, "Encrypt data") && !shows(&h, "Generate data key"),
        "a signing key offers no encryption"
    );

    // The public key the console saves is the one of the private key.
    let public = dir.path().join("public_key.pem");
    save_public_key(&mut h, &public);
    let from_openssl = openssl(dir.path(), &["pkey", "-in", &pem, "-pubout"]);
    assert_eq!(
        std::fs::read(&public).expect("the saved PEM"),
        from_openssl,
        "GetPublicKey's key, as PEM, byte for byte what `openssl pkey -pubout` writes"
    );

    // Sign in the console; OpenSSL verifies the signature.
    let message = "release 2.4.1 sha256 9f2c";
    type_into(&mut h, "Message to sign", message);
    click(&mut h, "Signing algorithm");
    click(&mut h, "RSASSA_PKCS1_V1_5_SHA_256");
    click(&mut h, "Sign");
    wait_label(&mut h, "Signature (base64)");
    let signature = B64
        .decode(field(&h, "Signature (base64)"))
        .expect("base64 signature");
    assert_eq!(signature.len(), 256, "an RSA_2048 signature is 256 bytes");
    let msg_file = dir.path().join("message.txt");
    let sig_file = dir.path().join("signature.bin");
    std::fs::write(&msg_file, message).unwrap();
    std::fs::write(&sig_file, &signature).unwrap();
    let verified = openssl(
        dir.path(),
        &[
            "dgst",
            "-sha256",
            "-verify",
            public.to_str().unwrap(),
            "-signature",
            sig_file.to_str().unwrap(),
            msg_file.to_str().unwrap(),
        ],
    );
    assert_eq!(String::from_utf8_lossy(&verified).trim(), "Verified OK");

    // The console's own Verify accepts it...
    click(&mut h, "Use in Verify ›");
    click(&mut h, "Verify signature");
    wait_label(
        &mut h,
        "✔ SignatureValid: the signature verifies (RSASSA_PKCS1_V1_5_SHA_256)",
    );

    // ... and an OpenSSL signature of the same message.
    let theirs = openssl(
        dir.path(),
        &["dgst", "-sha256", "-sign", &pem, msg_file.to_str().unwrap()],
    );
    type_into(&mut h, "Signature to verify (base64)", &B64.encode(&theirs));
    click(&mut h, "Verify signature");
    wait_label(
        &mut h,
        "✔ SignatureValid: the signature verifies (RSASSA_PKCS1_V1_5_SHA_256)",
    );

    // A damaged signature: AWS answers KMSInvalidSignatureException (Verify
    // API reference, Errors: "The request was rejected because the
    // signature verification failed."), never SignatureValid false.
    let mut damaged = signature.clone();
    damaged[10] ^= 0x40;
    type_into(
        &mut h,
        "Signature to verify (base64)",
        &B64.encode(&damaged),
    );
    click(&mut h, "Verify signature");
    wait_label(&mut h, "KMSInvalidSignatureException");
    assert!(
        !shows_part(&h, "✔ SignatureValid"),
        "no success shown beside the refusal"
    );

    // A digest signed as MessageType DIGEST verifies as the message does.
    let digest = openssl(
        dir.path(),
        &["dgst", "-sha256", "-r", msg_file.to_str().unwrap()],
    );
    let hex = String::from_utf8_lossy(&digest)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    click(&mut h, "The message is a digest (MessageType DIGEST)");
    type_into(&mut h, "Message to sign", &hex);
    type_into(
        &mut h,
        "Signature to verify (base64)",
        &B64.encode(&signature),
    );
    click(&mut h, "Verify signature");
    wait_label(
        &mut h,
        "✔ SignatureValid: the signature verifies (RSASSA_PKCS1_V1_5_SHA_256)",
    );
}

#[test]
fn an_rsa_encryption_key_encrypts_with_oaep_for_openssl_and_decrypts_its_ciphertext() {
    let (dir, store) = temp();
    let clock = ManualClock::new(START);
    let mut h = console(&store, &clock);
    create_store(&mut h);
    let (pem, der) = private_key(
        dir.path(),
        &["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
    );
    asymmetric_key(&mut h, "Encrypt and decrypt", "RSA_2048", &der);
    assert!(
        !shows(&h, "Generate data key"),
        "GenerateDataKey takes symmetric keys only"
    );
    assert!(
        !shows(&h, "Inspect ciphertext"),
        "no byok header to inspect"
    );

    // Encrypt with RSAES_OAEP_SHA_256; OpenSSL decrypts with the private key.
    click(&mut h, "RSAES_OAEP_SHA_256");
    type_into(&mut h, "Plaintext", "wire transfer PIN 4417");
    click(&mut h, "Encrypt");
    wait_label(&mut h, "Ciphertext (base64)");
    let blob = B64
        .decode(field(&h, "Ciphertext (base64)"))
        .expect("base64 ciphertext");
    assert_eq!(blob.len(), 256, "an RSA_2048 ciphertext is 256 bytes");
    let blob_file = dir.path().join("ciphertext.bin");
    std::fs::write(&blob_file, &blob).unwrap();
    let oaep256 = [
        "-pkeyopt",
        "rsa_padding_mode:oaep",
        "-pkeyopt",
        "rsa_oaep_md:sha256",
        "-pkeyopt",
        "rsa_mgf1_md:sha256",
    ];
    let mut args = vec!["pkeyutl", "-decrypt", "-inkey", &pem, "-in"];
    args.push(blob_file.to_str().unwrap());
    args.extend_from_slice(&oaep256);
    assert_eq!(openssl(dir.path(), &args), b"wire transfer PIN 4417");

    // OpenSSL encrypts with the public key the console saved; the console
    // decrypts, naming the key and the algorithm.
    let public = dir.path().join("public_key.pem");
    save_public_key(&mut h, &public);
    let plain_file = dir.path().join("plain.txt");
    std::fs::write(&plain_file, "from the partner bank").unwrap();
    let theirs_file = dir.path().join("theirs.bin");
    let mut args = vec!["pkeyutl", "-encrypt", "-pubin", "-inkey"];
    args.push(public.to_str().unwrap());
    args.extend_from_slice(&["-in", plain_file.to_str().unwrap()]);
    args.extend_from_slice(&["-out", theirs_file.to_str().unwrap()]);
    args.extend_from_slice(&oaep256);
    openssl(dir.path(), &args);
    let theirs = std::fs::read(&theirs_file).unwrap();
    assert!(shows_part(
        &h,
        "Decrypt names this key and RSAES_OAEP_SHA_256"
    ));
    type_into(
        &mut h,
        "Ciphertext to decrypt (base64)",
        &B64.encode(&theirs),
    );
    click(&mut h, "Decrypt");
    wait_label(&mut h, "from the partner bank");

    // The same ciphertext under the other algorithm does not decrypt: AWS
    // answers InvalidCiphertextException (Decrypt API reference, Errors).
    click(&mut h, "RSAES_OAEP_SHA_1");
    click(&mut h, "Decrypt");
    wait_label(&mut h, "InvalidCiphertextException");
}

#[test]
fn an_ecc_key_agreement_key_derives_the_secret_openssl_derives() {
    let (dir, store) = temp();
    let clock = ManualClock::new(START);
    let mut h = console(&store, &clock);
    create_store(&mut h);
    let (pem, der) = private_key(
        dir.path(),
        &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
    );
    asymmetric_key(&mut h, "Key agreement", "ECC_NIST_P256", &der);

    // The other party's key pair, made with OpenSSL.
    let peer = dir.path().join("peer.pem").display().to_string();
    openssl(
        dir.path(),
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            &peer,
        ],
    );
    let peer_public =
        String::from_utf8(openssl(dir.path(), &["pkey", "-in", &peer, "-pubout"])).unwrap();
    type_into(&mut h, "Other party's public key", &peer_public);
    click(&mut h, "Derive shared secret");
    wait_part(&mut h, "SharedSecret (base64, ECDH)");

    // What OpenSSL derives from the key's private half and the peer's
    // public key.
    let peer_pub_file = dir.path().join("peer_pub.pem");
    std::fs::write(&peer_pub_file, &peer_public).unwrap();
    let expected = openssl(
        dir.path(),
        &[
            "pkeyutl",
            "-derive",
            "-inkey",
            &pem,
            "-peerkey",
            peer_pub_file.to_str().unwrap(),
        ],
    );
    assert_eq!(expected.len(), 32);
    wait_label(&mut h, &B64.encode(&expected));

    // A private key pasted by mistake is refused before any call.
    let private = std::fs::read_to_string(&peer).unwrap();
    type_into(&mut h, "Other party's public key", &private);
    click(&mut h, "Derive shared secret");
    wait_part(&mut h, "This PEM is not a public key.");
}
