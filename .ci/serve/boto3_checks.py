#!/usr/bin/env python3
"""boto3 against `byok serve`: errors arrive as botocore ClientError with the
AWS codes and messages, and unsigned, forged, unknown and stale requests are
refused with the right codes.

Environment: BYOK_ENDPOINT (http://127.0.0.1:PORT), AWS_ACCESS_KEY_ID,
AWS_SECRET_ACCESS_KEY, AWS_DEFAULT_REGION. Prints one line per check and
'N passed, 0 failed' at the end; exits non-zero on the first failure.
"""

import datetime
import os
import sys
import uuid

import boto3
import botocore
import botocore.auth
from botocore.config import Config
from botocore.exceptions import ClientError

ENDPOINT = os.environ["BYOK_ENDPOINT"]
REGION = os.environ["AWS_DEFAULT_REGION"]
KEY_ID = os.environ["AWS_ACCESS_KEY_ID"]
SECRET = os.environ["AWS_SECRET_ACCESS_KEY"]
# No retries: every refusal must be seen as it is.
NO_RETRY = Config(retries={"mode": "standard", "total_max_attempts": 1})

passed = 0


def client(**kwargs):
    args = dict(
        endpoint_url=ENDPOINT,
        region_name=REGION,
        aws_access_key_id=KEY_ID,
        aws_secret_access_key=SECRET,
        config=NO_RETRY,
    )
    args.update(kwargs)
    return boto3.client("kms", **args)


def expect_error(name, call, code, message=None, contains=None, status=400):
    global passed
    try:
        out = call()
    except ClientError as e:
        err = e.response["Error"]
        got_status = e.response["ResponseMetadata"]["HTTPStatusCode"]
        problems = []
        if err.get("Code") != code:
            problems.append(f"code {err.get('Code')!r}, expected {code!r}")
        if message is not None and err.get("Message") != message:
            problems.append(f"message {err.get('Message')!r}, expected {message!r}")
        if contains is not None and contains not in (err.get("Message") or ""):
            problems.append(f"message {err.get('Message')!r} lacks {contains!r}")
        if got_status != status:
            problems.append(f"HTTP {got_status}, expected {status}")
        if not e.response["ResponseMetadata"].get("RequestId"):
            problems.append("no x-amzn-RequestId")
        if problems:
            sys.exit(f"FAIL {name}: " + "; ".join(problems))
        print(f"ok   {name}: {code}: {err.get('Message')}")
        passed += 1
        return
    sys.exit(f"FAIL {name}: expected {code}, got success {out!r}")


def check(name, condition, detail=""):
    global passed
    if not condition:
        sys.exit(f"FAIL {name} {detail}")
    print(f"ok   {name}")
    passed += 1


kms = client()
account_arn = lambda key: f"arn:aws:kms:{REGION}:000000000000:key/{key}"  # noqa: E731

# Engine errors, in the AWS shapes.
missing = str(uuid.uuid4())
expect_error(
    "unknown key",
    lambda: kms.describe_key(KeyId=missing),
    "NotFoundException",
    message=f"Key '{account_arn(missing)}' does not exist",
)
expect_error(
    "malformed key id",
    lambda: kms.describe_key(KeyId="not-a-key"),
    "NotFoundException",
    message="Invalid keyId 'not-a-key'",
)
external = kms.create_key(Origin="EXTERNAL", Description="boto3 checks")["KeyMetadata"]
check("create_key EXTERNAL is PendingImport", external["KeyState"] == "PendingImport", external)
expect_error(
    "encrypt under a key pending import",
    lambda: kms.encrypt(KeyId=external["KeyId"], Plaintext=b"hello"),
    "KMSInvalidStateException",
    message=f"{external['Arn']} is pending import.",
)
expect_error(
    "ValidTo missing for expiring material",
    lambda: kms.import_key_material(
        KeyId=external["KeyId"],
        ImportToken=b"token",
        EncryptedKeyMaterial=b"material",
        ExpirationModel="KEY_MATERIAL_EXPIRES",
    ),
    "ValidationException",
    message="A validTo date must be set if the ExpirationModel is KEY_MATERIAL_EXPIRES",
)
expect_error(
    "data key with both length and spec",
    lambda: kms.generate_data_key(KeyId=external["KeyId"], NumberOfBytes=32, KeySpec="AES_256"),
    "ValidationException",
    contains="either number of bytes or key spec",
)
expect_error(
    "PKCS#1 v1.5 wrapping is refused",
    lambda: kms.get_parameters_for_import(
        KeyId=external["KeyId"], WrappingAlgorithm="RSAES_PKCS1_V1_5", WrappingKeySpec="RSA_2048"
    ),
    "ValidationException",
)
generated = kms.create_key(Description="boto3 checks, AWS_KMS")["KeyMetadata"]
ct = kms.encrypt(KeyId=generated["KeyId"], Plaintext=b"hello", EncryptionContext={"a": "b"})["CiphertextBlob"]
check(
    "encrypt/decrypt round trip",
    kms.decrypt(CiphertextBlob=ct, EncryptionContext={"a": "b"})["Plaintext"] == b"hello",
)
expect_error(
    "wrong encryption context",
    lambda: kms.decrypt(CiphertextBlob=ct, EncryptionContext={"a": "c"}),
    "InvalidCiphertextException",
)
kms.disable_key(KeyId=generated["KeyId"])
expect_error(
    "encrypt under a disabled key",
    lambda: kms.encrypt(KeyId=generated["KeyId"], Plaintext=b"hello"),
    "DisabledException",
    message=f"{generated['Arn']} is disabled.",
)

# Authentication.
unsigned = client(config=NO_RETRY.merge(Config(signature_version=botocore.UNSIGNED)))
expect_error(
    "unsigned request",
    lambda: unsigned.list_keys(),
    "MissingAuthenticationTokenException",
    message="Missing Authentication Token",
)
forged = client(aws_secret_access_key="x" * 40)
expect_error(
    "wrong secret",
    lambda: forged.list_keys(),
    "InvalidSignatureException",
    contains="The request signature we calculated does not match the signature you provided.",
)
stranger = client(aws_access_key_id="AKIAIOSFODNN7EXAMPLE")
expect_error(
    "unknown access key id",
    lambda: stranger.list_keys(),
    "UnrecognizedClientException",
    message="The security token included in the request is invalid.",
)
# One endpoint serves every region of the store, as the region of the
# SigV4 credential scope says (issue 8, multi-Region keys): a client of
# eu-west-3 is answered in eu-west-3, and sees none of us-east-1's keys.
other_region = client(region_name="eu-west-3")
here = {k["KeyId"] for k in kms.list_keys()["Keys"]}
there = {k["KeyId"] for k in other_region.list_keys()["Keys"]}
check(
    "another region in the scope is answered in that region",
    bool(here) and not (here & there),
    f"us-east-1 {len(here)} keys, eu-west-3 {sorted(there)}",
)
real_now = botocore.auth.get_current_datetime
botocore.auth.get_current_datetime = lambda: real_now() - datetime.timedelta(minutes=10)
try:
    expect_error(
        "X-Amz-Date ten minutes old",
        lambda: kms.list_keys(),
        "InvalidSignatureException",
        contains="Signature expired: ",
    )
finally:
    botocore.auth.get_current_datetime = real_now
keys = kms.list_keys()["Keys"]
check("signed calls still work and refused ones created nothing", len(keys) >= 3, keys)

print(f"{passed} passed, 0 failed")
