#!/usr/bin/env bash
# The announcement's walkthrough (shared/WALKTHROUGH.md, steps 1-7) with the
# real AWS CLI against `byok serve`, OpenSSL wrapping the material; then
# boto3 checks of errors and refusals (boto3_checks.py); the AWS SDK for
# JavaScript v3 through a whole ceremony with DryRun (js/kms_checks.mjs); the
# AWS Encryption SDK CLI through deletion and re-import;
# then a graceful
# stop and a look at the audit trail in the reopened store.
#
# Needs: BYOK_BIN (the byok binary), aws (AWS CLI v1: pip install awscli),
# python3 with boto3, openssl, node with .ci/serve/js's packages (npm ci).
set -euo pipefail

BYOK_BIN=${BYOK_BIN:?set BYOK_BIN to the byok binary (target/release/byok or target/debug/byok)}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
work=$(mktemp -d)
server_pid=""
cleanup() {
    if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
        kill -TERM "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT
cd "$work"

checks=0
fail() {
    echo "FAIL: $*" >&2
    [ -f serve.err ] && { echo "--- byok serve stderr:" >&2; cat serve.err >&2; }
    exit 1
}
expect_eq() { # actual expected what
    [ "$1" = "$2" ] || fail "$3: got '$1', expected '$2'"
    checks=$((checks + 1))
    echo "ok   $3"
}
expect_match() { # actual regex what
    [[ "$1" =~ $2 ]] || fail "$3: '$1' does not match /$2/"
    checks=$((checks + 1))
    echo "ok   $3"
}

# A throwaway store; the rotation delay short so that step 4 completes quickly
# but stays pending long enough to be seen from the CLI.
export BYOK_STORE="$work/store.byok" BYOK_PASSPHRASE="interop-$$" BYOK_INSECURE_FAST_KDF=1
ROTATION_DELAY_MS=4000
"$BYOK_BIN" store settings --rotation-delay-ms "$ROTATION_DELAY_MS" >/dev/null
creds=$("$BYOK_BIN" serve --show-credentials)
eval "$creds"
export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_DEFAULT_REGION AWS_REGION
expect_match "$AWS_ACCESS_KEY_ID" '^BYOK[A-Z2-7]{16}$' "--show-credentials prints an access key id"
expect_eq "${#AWS_SECRET_ACCESS_KEY}" 40 "--show-credentials prints a 40-character secret"
# Nothing from the user's own AWS setup.
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_PAGER="" AWS_DEFAULT_OUTPUT=json
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_ENDPOINT_URL AWS_ENDPOINT_URL_KMS 2>/dev/null || true

"$BYOK_BIN" serve --port 0 >serve.out 2>serve.err &
server_pid=$!
for _ in $(seq 300); do
    grep -q 'listening on' serve.out 2>/dev/null && break
    kill -0 "$server_pid" 2>/dev/null || fail "byok serve exited"
    sleep 0.1
done
line=$(head -n1 serve.out)
expect_match "$line" '^byok serve: listening on http://127\.0\.0\.1:[0-9]+ \(region us-east-1\)$' "the listening line"
port=$(sed -n 's#^byok serve: listening on http://127\.0\.0\.1:\([0-9]*\) .*#\1#p' serve.out)
endpoint="http://127.0.0.1:$port"
kms() { aws --endpoint-url "$endpoint" kms "$@"; }
arn_of() { echo "arn:aws:kms:us-east-1:000000000000:key/$1"; }
json_get() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval('d'+sys.argv[2]))" "$@"; }
# The [byok] material id: hex(SHA-256("byok/key-material-id/v1" 0x00 KeyId 0x00 material)).
material_id() {
    python3 -c "import hashlib,sys; print(hashlib.sha256(b'byok/key-material-id/v1\0'+sys.argv[1].encode()+b'\0'+open(sys.argv[2],'rb').read()).hexdigest())" "$1" "$2"
}
wrap() { # public key DER, material, output
    openssl pkeyutl -encrypt -in "$2" -out "$3" -inkey "$1" -keyform DER -pubin \
        -pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256 -pkeyopt rsa_mgf1_md:sha256
}

echo "== Step 1: a key with EXTERNAL origin, and its first material"
KEY_ID=$(kms create-key --origin EXTERNAL --description "imported key" --query KeyMetadata.KeyId --output text)
expect_match "$KEY_ID" '^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$' "create-key gives a UUID v4"
ARN=$(arn_of "$KEY_ID")
expect_eq "$(kms describe-key --key-id "$KEY_ID" --query KeyMetadata.KeyState --output text)" PendingImport "new EXTERNAL key is PendingImport"
openssl rand -out KeyMaterial1.bin 32
kms get-parameters-for-import --key-id "$KEY_ID" \
    --wrapping-algorithm RSAES_OAEP_SHA_256 --wrapping-key-spec RSA_4096 \
    --query '[PublicKey, ImportToken]' --output text >params1.txt
cut -f1 params1.txt | base64 -d >PublicKey1.bin
cut -f2 params1.txt | base64 -d >ImportToken1.bin
expect_eq "$(stat -c %s PublicKey1.bin)" 550 "RSA_4096 public key is a 550-byte SubjectPublicKeyInfo"
wrap PublicKey1.bin KeyMaterial1.bin EncryptedKeyMaterial1.bin
KEY_MATERIAL1_ID=$(kms import-key-material --key-id "$KEY_ID" \
    --encrypted-key-material fileb://EncryptedKeyMaterial1.bin \
    --import-token fileb://ImportToken1.bin \
    --expiration-model KEY_MATERIAL_DOES_NOT_EXPIRE \
    --key-material-description "KeyMaterial1 kept in HSM vault A" \
    --query KeyMaterialId --output text)
expect_eq "$KEY_MATERIAL1_ID" "$(material_id "$KEY_ID" KeyMaterial1.bin)" "KeyMaterialId of material 1 (SHA-256 of key id and material)"
kms describe-key --key-id "$KEY_ID" >describe1.json
expect_eq "$(json_get describe1.json "['KeyMetadata']['KeyState']")" Enabled "key Enabled after the first import"
expect_eq "$(json_get describe1.json "['KeyMetadata']['CurrentKeyMaterialId']")" "$KEY_MATERIAL1_ID" "CurrentKeyMaterialId is material 1"
expect_eq "$(json_get describe1.json "['KeyMetadata']['Origin']")" EXTERNAL "Origin EXTERNAL"
expect_eq "$(json_get describe1.json "['KeyMetadata']['ExpirationModel']")" KEY_MATERIAL_DOES_NOT_EXPIRE "ExpirationModel"
expect_eq "$(kms list-key-rotations --key-id "$KEY_ID" --include-key-material ALL_KEY_MATERIAL \
    --query 'Rotations[].[KeyMaterialId,KeyMaterialState,ImportState,KeyMaterialDescription]' --output text)" \
    "$(printf '%s\tCURRENT\tIMPORTED\tKeyMaterial1 kept in HSM vault A' "$KEY_MATERIAL1_ID")" "one material, CURRENT, IMPORTED"

echo "== Step 2: use it"
kms generate-data-key --key-id "$KEY_ID" --key-spec AES_256 >datakey1.json
expect_eq "$(json_get datakey1.json "['KeyMaterialId']")" "$KEY_MATERIAL1_ID" "generate-data-key uses material 1"
expect_eq "$(json_get datakey1.json "['KeyId']")" "$ARN" "generate-data-key returns the key ARN"
python3 -c "import json,base64;print(json.load(open('datakey1.json'))['CiphertextBlob'])" | base64 -d >ciphertext1.bin
kms decrypt --ciphertext-blob fileb://ciphertext1.bin >decrypt1.json
expect_eq "$(json_get decrypt1.json "['Plaintext']")" "$(json_get datakey1.json "['Plaintext']")" "decrypt gives the data key back"
expect_eq "$(json_get decrypt1.json "['KeyMaterialId']")" "$KEY_MATERIAL1_ID" "decrypt names material 1"

echo "== Step 3: a second material, pending rotation"
openssl rand -out KeyMaterial2.bin 32
kms get-parameters-for-import --key-id "$KEY_ID" \
    --wrapping-algorithm RSAES_OAEP_SHA_256 --wrapping-key-spec RSA_4096 \
    --query '[PublicKey, ImportToken]' --output text >params2.txt
cut -f1 params2.txt | base64 -d >PublicKey2.bin
cut -f2 params2.txt | base64 -d >ImportToken2.bin
wrap PublicKey2.bin KeyMaterial2.bin EncryptedKeyMaterial2.bin
KEY_MATERIAL2_ID=$(kms import-key-material --key-id "$KEY_ID" \
    --encrypted-key-material fileb://EncryptedKeyMaterial2.bin \
    --import-token fileb://ImportToken2.bin \
    --expiration-model KEY_MATERIAL_DOES_NOT_EXPIRE --import-type NEW_KEY_MATERIAL \
    --key-material-description "KeyMaterial2 kept in HSM vault A" \
    --query KeyMaterialId --output text)
expect_eq "$KEY_MATERIAL2_ID" "$(material_id "$KEY_ID" KeyMaterial2.bin)" "KeyMaterialId of material 2"
expect_eq "$(kms list-key-rotations --key-id "$KEY_ID" --include-key-material ALL_KEY_MATERIAL \
    --query 'Rotations[].[KeyMaterialId,KeyMaterialState]' --output text)" \
    "$(printf '%s\tCURRENT\n%s\tPENDING_ROTATION' "$KEY_MATERIAL1_ID" "$KEY_MATERIAL2_ID")" "material 2 PENDING_ROTATION"

echo "== Step 4: rotate"
rotated_at=$(date +%s%N)
expect_eq "$(kms rotate-key-on-demand --key-id "$KEY_ID" --query KeyId --output text)" "$ARN" "rotate-key-on-demand returns the key ARN"
kms get-key-rotation-status --key-id "$KEY_ID" >status1.json
pending_ms=$((($(date +%s%N) - rotated_at) / 1000000))
[ "$pending_ms" -lt "$ROTATION_DELAY_MS" ] || fail "the CLI took ${pending_ms} ms, longer than the rotation delay; cannot observe the pending window"
expect_match "$(json_get status1.json "['OnDemandRotationStartDate']")" '^[0-9.]+$' "OnDemandRotationStartDate present while the rotation is in progress"
expect_eq "$(json_get status1.json "['KeyRotationEnabled']")" False "KeyRotationEnabled false for EXTERNAL"
for _ in $(seq 60); do
    kms get-key-rotation-status --key-id "$KEY_ID" >status2.json
    python3 -c "import json,sys; sys.exit('OnDemandRotationStartDate' in json.load(open('status2.json')))" && break
    sleep 0.5
done
expect_eq "$(json_get status2.json ".get('OnDemandRotationStartDate')")" None "OnDemandRotationStartDate gone after the rotation"
expect_eq "$(kms describe-key --key-id "$KEY_ID" --query KeyMetadata.CurrentKeyMaterialId --output text)" "$KEY_MATERIAL2_ID" "CurrentKeyMaterialId is material 2"
expect_eq "$(kms list-key-rotations --key-id "$KEY_ID" --include-key-material ALL_KEY_MATERIAL \
    --query 'Rotations[].[KeyMaterialId,KeyMaterialState,RotationType]' --output text)" \
    "$(printf '%s\tNON_CURRENT\tNone\n%s\tCURRENT\tON_DEMAND' "$KEY_MATERIAL1_ID" "$KEY_MATERIAL2_ID")" "material 1 NON_CURRENT, material 2 CURRENT (ON_DEMAND)"
expect_match "$(kms list-key-rotations --key-id "$KEY_ID" --query 'Rotations[0].RotationDate' --output text)" '^[0-9.]+$' "the rotation has a RotationDate"

echo "== Step 5: new ciphertext uses material 2; old ciphertext still decrypts with material 1"
kms generate-data-key --key-id "$KEY_ID" --key-spec AES_256 >datakey2.json
expect_eq "$(json_get datakey2.json "['KeyMaterialId']")" "$KEY_MATERIAL2_ID" "generate-data-key uses material 2"
python3 -c "import json,base64;print(json.load(open('datakey2.json'))['CiphertextBlob'])" | base64 -d >ciphertext2.bin
kms decrypt --ciphertext-blob fileb://ciphertext1.bin >decrypt1b.json
expect_eq "$(json_get decrypt1b.json "['KeyMaterialId']")" "$KEY_MATERIAL1_ID" "the step-2 ciphertext decrypts with material 1"
expect_eq "$(json_get decrypt1b.json "['Plaintext']")" "$(json_get datakey1.json "['Plaintext']")" "... to the same data key"

echo "== Step 6: delete material 1; the key becomes unusable"
expect_eq "$(kms delete-imported-key-material --key-id "$KEY_ID" --key-material-id "$KEY_MATERIAL1_ID" --query KeyMaterialId --output text)" \
    "$KEY_MATERIAL1_ID" "delete-imported-key-material names material 1"
expect_eq "$(kms describe-key --key-id "$KEY_ID" --query KeyMetadata.KeyState --output text)" PendingImport "key PendingImport"
set +e
kms decrypt --ciphertext-blob fileb://ciphertext2.bin >decrypt2.out 2>decrypt2.err
status=$?
set -e
[ "$status" -ne 0 ] || fail "decrypt should fail after material 1 is deleted"
expect_eq "$(grep -v '^$' decrypt2.err)" \
    "An error occurred (KMSInvalidStateException) when calling the Decrypt operation: $ARN is pending import." \
    "the AWS CLI error line"

echo "== Step 7: re-import material 1 with the same wrapped blob and token"
expect_eq "$(kms import-key-material --key-id "$KEY_ID" \
    --encrypted-key-material fileb://EncryptedKeyMaterial1.bin \
    --import-token fileb://ImportToken1.bin \
    --expiration-model KEY_MATERIAL_DOES_NOT_EXPIRE --import-type EXISTING_KEY_MATERIAL \
    --query KeyMaterialId --output text)" "$KEY_MATERIAL1_ID" "re-import gives material 1's id"
expect_eq "$(kms describe-key --key-id "$KEY_ID" --query KeyMetadata.KeyState --output text)" Enabled "key Enabled again"
expect_eq "$(kms decrypt --ciphertext-blob fileb://ciphertext1.bin --query KeyMaterialId --output text)" "$KEY_MATERIAL1_ID" "ciphertext 1 decrypts"
expect_eq "$(kms decrypt --ciphertext-blob fileb://ciphertext2.bin --query KeyMaterialId --output text)" "$KEY_MATERIAL2_ID" "ciphertext 2 decrypts"

echo "== boto3"
BYOK_ENDPOINT="$endpoint" python3 "$here/boto3_checks.py"

echo "== the AWS SDK for JavaScript v3"
BYOK_ENDPOINT="$endpoint" node "$here/js/kms_checks.mjs" || fail "the AWS SDK for JavaScript v3 checks"

echo "== the AWS Encryption SDK CLI"
# aws-encryption-cli (PyPI, unmodified) reaches byok serve through botocore's
# AWS_ENDPOINT_URL_KMS. An envelope under the walkthrough's key (material 2
# current); material 2 deleted: the envelope cannot be opened; re-imported:
# it opens again.
KEY_ARN=$(arn_of "$KEY_ID")
esdk() { AWS_ENDPOINT_URL_KMS="$endpoint" aws-encryption-cli "$@" \
    --wrapping-keys key="$KEY_ARN" --commitment-policy require-encrypt-require-decrypt; }
printf 'quarterly payroll, encrypted with the AWS Encryption SDK\n' >esdk.txt
esdk --encrypt --input esdk.txt --output esdk.enc --metadata-output esdk-meta.json \
    || fail "aws-encryption-cli --encrypt"
expect_eq "$(python3 -c "import base64,json,sys; print(base64.b64decode(json.load(open(sys.argv[1]))['header']['encrypted_data_keys'][0]['key_provider']['key_info']).decode())" esdk-meta.json)" \
    "$KEY_ARN" "the envelope's data key is wrapped by the walkthrough's key"
kms delete-imported-key-material --key-id "$KEY_ID" --key-material-id "$KEY_MATERIAL2_ID" >/dev/null
if esdk --decrypt --input esdk.enc --output esdk.out --metadata-output - --buffer >/dev/null 2>esdk.err; then
    fail "aws-encryption-cli decrypted with the key's material deleted"
fi
expect_match "$(cat esdk.err)" "Unable to decrypt any data key|KMSInvalidStateException" "aws-encryption-cli cannot open the envelope while the key is pending import"
kms import-key-material --key-id "$KEY_ID" \
    --encrypted-key-material fileb://EncryptedKeyMaterial2.bin \
    --import-token fileb://ImportToken2.bin \
    --expiration-model KEY_MATERIAL_DOES_NOT_EXPIRE --import-type EXISTING_KEY_MATERIAL >/dev/null
esdk --decrypt --input esdk.enc --output esdk.out --metadata-output - --buffer >/dev/null \
    || fail "aws-encryption-cli --decrypt after the re-import"
expect_eq "$(cat esdk.out)" "quarterly payroll, encrypted with the AWS Encryption SDK" "aws-encryption-cli decrypts after the re-import"

echo "== graceful stop and the audit trail"
kill -TERM "$server_pid"
set +e
wait "$server_pid"
status=$?
set -e
server_pid=""
expect_eq "$status" 0 "byok serve exits 0 on SIGTERM"
grep -q 'stopped after' serve.err || fail "no shutdown message"
"$BYOK_BIN" audit export --out audit.json 2>audit.err || { cat audit.err >&2; fail "byok audit export"; }
"$BYOK_BIN" audit verify audit.json >verify.out || { cat verify.out >&2; fail "byok audit verify"; }
DATA_KEY1=$(json_get datakey1.json "['Plaintext']") DATA_KEY2=$(json_get datakey2.json "['Plaintext']") \
python3 - "$AWS_ACCESS_KEY_ID" "$KEY_ID" audit.json <<'PY'
import json, os, sys
key_id, kms_key, path = sys.argv[1], sys.argv[2], sys.argv[3]
records = json.load(open(path))["Records"]
api = [r for r in records if r["userIdentity"]["invokedBy"] == "api"]
def fail(msg):
    sys.exit(f"FAIL audit: {msg}")
if len(api) < 40:
    fail(f"only {len(api)} API records")
signed = [r for r in api if r.get("errorCode") not in ("MissingAuthenticationTokenException", "UnrecognizedClientException")]
if any(r["userIdentity"].get("accessKeyId") != key_id for r in signed):
    fail("an authenticated API record lacks the access key id")
if not any("aws-cli/" in (r.get("userAgent") or "") for r in api):
    fail("no record from the AWS CLI")
if not any("Boto3/" in (r.get("userAgent") or "") for r in api):
    fail("no record from boto3")
if any(r.get("sourceIPAddress") != "127.0.0.1" for r in api):
    fail("a record without the client address")
def has(name, code=None, access_key=...):
    return any(
        r["eventName"] == name and r.get("errorCode") == code
        and (access_key is ... or r["userIdentity"].get("accessKeyId") == access_key)
        for r in api
    )
for name, code, access_key in [
    ("ImportKeyMaterial", None, key_id),
    ("RotateKeyOnDemand", None, key_id),
    ("Decrypt", "KMSInvalidStateException", key_id),
    ("ListKeys", "MissingAuthenticationTokenException", None),
    ("ListKeys", "InvalidSignatureException", key_id),
    ("ListKeys", "UnrecognizedClientException", "AKIAIOSFODNN7EXAMPLE"),
]:
    if not has(name, code, access_key):
        fail(f"no {name} record with error {code} and access key {access_key}")
# One RotateKey service event for the walkthrough's key (the JavaScript
# checks rotate a key of their own).
rotate = [
    r for r in records
    if r["eventName"] == "RotateKey" and r["eventType"] == "AwsServiceEvent"
    and r["resources"][0]["ARN"].rsplit("/", 1)[1] == kms_key
]
if len(rotate) != 1:
    fail("the rotation's service event is missing")
text = open(path).read()
for name in ("AWS_SECRET_ACCESS_KEY", "DATA_KEY1", "DATA_KEY2", "BYOK_PASSPHRASE"):
    if os.environ[name] in text:
        fail(f"the value of {name} appears in the audit trail")
print(f"ok   audit trail: {len(records)} records, {len(api)} from the API, chain verified")
PY
checks=$((checks + 1))
grep -q '^OK: ' verify.out || fail "chain not verified"
echo "interop: $checks passed, 0 failed"
