// The AWS SDK for JavaScript v3 (@aws-sdk/client-kms, unmodified) against
// `byok serve`: import, encrypt, DryRun, a second material and an on-demand
// rotation, old ciphertext, deletion (the key fails), re-import, decrypt.
// Run by .ci/serve/interop.sh with BYOK_ENDPOINT and the store's credentials
// in AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY.
import crypto from "node:crypto";
import {
  KMSClient,
  CreateKeyCommand,
  GetParametersForImportCommand,
  ImportKeyMaterialCommand,
  EncryptCommand,
  DecryptCommand,
  DescribeKeyCommand,
  RotateKeyOnDemandCommand,
  GetKeyRotationStatusCommand,
  DeleteImportedKeyMaterialCommand,
  GenerateRandomCommand,
  GetKeyPolicyCommand,
} from "@aws-sdk/client-kms";

const endpoint = process.env.BYOK_ENDPOINT;
if (!endpoint) throw new Error("set BYOK_ENDPOINT");
const kms = new KMSClient({ endpoint, region: process.env.AWS_REGION || "us-east-1", maxAttempts: 2 });

let checks = 0;
function ok(cond, what) {
  if (!cond) {
    console.error(`FAIL (js): ${what}`);
    process.exit(1);
  }
  checks += 1;
  console.log(`ok   js: ${what}`);
}
async function fails(promise) {
  try {
    await promise;
  } catch (e) {
    return e;
  }
  return null;
}

async function importMaterial(keyId, material, extra) {
  const p = await kms.send(
    new GetParametersForImportCommand({
      KeyId: keyId,
      WrappingAlgorithm: "RSAES_OAEP_SHA_256",
      WrappingKeySpec: "RSA_4096",
    }),
  );
  const publicKey = crypto.createPublicKey({ key: Buffer.from(p.PublicKey), format: "der", type: "spki" });
  const wrapped = crypto.publicEncrypt(
    { key: publicKey, padding: crypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha256" },
    material,
  );
  return kms.send(
    new ImportKeyMaterialCommand({
      KeyId: keyId,
      ImportToken: p.ImportToken,
      EncryptedKeyMaterial: wrapped,
      ExpirationModel: "KEY_MATERIAL_DOES_NOT_EXPIRE",
      ...extra,
    }),
  );
}

const created = await kms.send(new CreateKeyCommand({ Origin: "EXTERNAL", Description: "js v3 interop" }));
const keyId = created.KeyMetadata.KeyId;
ok(created.KeyMetadata.KeyState === "PendingImport", "CreateKey EXTERNAL is PendingImport");

const m1 = crypto.randomBytes(32);
const i1 = await importMaterial(keyId, m1, { KeyMaterialDescription: "js material 1" });
ok(/^[0-9a-f]{64}$/.test(i1.KeyMaterialId), "ImportKeyMaterial answers a KeyMaterialId");

const plaintext = Buffer.from("hello from the AWS SDK for JavaScript v3");
const e1 = await kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: plaintext }));
const d1 = await kms.send(new DecryptCommand({ CiphertextBlob: e1.CiphertextBlob }));
ok(Buffer.from(d1.Plaintext).equals(plaintext), "Decrypt gives the plaintext back");
ok(d1.KeyMaterialId === i1.KeyMaterialId, "Decrypt names the material");

// DryRun: the call is checked, not done.
const dry = await fails(kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: plaintext, DryRun: true })));
ok(dry && dry.name === "DryRunOperationException", `Encrypt with DryRun answers DryRunOperationException (${dry && dry.name})`);
ok(dry && dry.$metadata.httpStatusCode === 400, "DryRunOperationException is HTTP 400");

// A second material, pending rotation, then an on-demand rotation.
const m2 = crypto.randomBytes(32);
const i2 = await importMaterial(keyId, m2, { ImportType: "NEW_KEY_MATERIAL" });
ok(i2.KeyMaterialId !== i1.KeyMaterialId, "the second material has its own id");
await kms.send(new RotateKeyOnDemandCommand({ KeyId: keyId }));
for (let i = 0; i < 300; i++) {
  const s = await kms.send(new GetKeyRotationStatusCommand({ KeyId: keyId }));
  if (!s.OnDemandRotationStartDate) break;
  await new Promise((r) => setTimeout(r, 100));
}
const described = await kms.send(new DescribeKeyCommand({ KeyId: keyId }));
ok(described.KeyMetadata.CurrentKeyMaterialId === i2.KeyMaterialId, "after the rotation material 2 is current");
const old = await kms.send(new DecryptCommand({ CiphertextBlob: e1.CiphertextBlob }));
ok(old.KeyMaterialId === i1.KeyMaterialId, "old ciphertext still decrypts with material 1");

// Delete material 1: the whole key is unusable until it is re-imported.
await kms.send(new DeleteImportedKeyMaterialCommand({ KeyId: keyId, KeyMaterialId: i1.KeyMaterialId }));
const pending = await fails(kms.send(new DecryptCommand({ CiphertextBlob: e1.CiphertextBlob })));
ok(pending && pending.name === "KMSInvalidStateException", `Decrypt while pending import fails (${pending && pending.name})`);
const again = await importMaterial(keyId, m1, { ImportType: "EXISTING_KEY_MATERIAL" });
ok(again.KeyMaterialId === i1.KeyMaterialId, "re-import gives material 1's id");
const back = await kms.send(new DecryptCommand({ CiphertextBlob: e1.CiphertextBlob }));
ok(Buffer.from(back.Plaintext).equals(plaintext), "after the re-import old ciphertext decrypts");

const random = await kms.send(new GenerateRandomCommand({ NumberOfBytes: 32 }));
ok(random.Plaintext.length === 32, "GenerateRandom gives 32 bytes");
const policy = await kms.send(new GetKeyPolicyCommand({ KeyId: keyId }));
ok(JSON.parse(policy.Policy).Statement[0].Sid === "Enable IAM User Permissions", "GetKeyPolicy gives the default key policy");

console.log(`js: ${checks} checks passed`);
