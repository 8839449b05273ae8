// Used by scripts/services.sh: makes sure the test bucket exists on the local
// S3-compatible server and that a write + read through Bun.S3Client works
// (the client the app uses). Usage:
//   bun scripts/s3-check.ts [--quiet]
// Reads S3_ENDPOINT, S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY, S3_REGION,
// TEST_S3_BUCKET from the environment.
import { createHash, createHmac } from "node:crypto";

const endpoint = (process.env.S3_ENDPOINT ?? "http://127.0.0.1:9000").replace(/\/+$/, "");
const accessKeyId = process.env.S3_ACCESS_KEY_ID ?? "sillage";
const secretAccessKey = process.env.S3_SECRET_ACCESS_KEY ?? "sillage-secret";
const region = process.env.S3_REGION ?? "us-east-1";
const bucket = process.env.TEST_S3_BUCKET ?? "sillage-test";
const quiet = process.argv.includes("--quiet");

const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");
const hmac = (k: string | Buffer, s: string) => createHmac("sha256", k).update(s).digest();

// Minimal AWS SigV4 for a bucket-level request with an empty body
// (Bun.S3Client has no create-bucket call).
async function signedBucketRequest(method: "PUT" | "HEAD", name: string): Promise<Response> {
  const url = new URL(`${endpoint}/${encodeURIComponent(name)}`);
  const now = new Date();
  const amzDate = now.toISOString().replace(/[:-]|\.\d{3}/g, ""); // YYYYMMDDTHHMMSSZ
  const date = amzDate.slice(0, 8);
  const payloadHash = sha256("");
  const headers: Record<string, string> = {
    host: url.host,
    "x-amz-content-sha256": payloadHash,
    "x-amz-date": amzDate,
  };
  const signedHeaders = Object.keys(headers).sort().join(";");
  const canonicalHeaders = Object.keys(headers).sort().map((k) => `${k}:${headers[k]}\n`).join("");
  const canonicalRequest = [method, url.pathname, "", canonicalHeaders, signedHeaders, payloadHash].join("\n");
  const scope = `${date}/${region}/s3/aws4_request`;
  const stringToSign = ["AWS4-HMAC-SHA256", amzDate, scope, sha256(canonicalRequest)].join("\n");
  const kDate = hmac(`AWS4${secretAccessKey}`, date);
  const kSigning = hmac(hmac(hmac(kDate, region), "s3"), "aws4_request");
  const signature = createHmac("sha256", kSigning).update(stringToSign).digest("hex");
  const { host: _host, ...sendHeaders } = headers;
  return fetch(url, {
    method,
    headers: {
      ...sendHeaders,
      authorization: `AWS4-HMAC-SHA256 Credential=${accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`,
    },
  });
}

async function ensureBucket(name: string) {
  const head = await signedBucketRequest("HEAD", name);
  if (head.status === 200) return "exists";
  const put = await signedBucketRequest("PUT", name);
  const body = await put.text();
  if (put.ok || body.includes("BucketAlreadyOwnedByYou")) return "created";
  throw new Error(`create bucket ${name}: HTTP ${put.status} ${body.slice(0, 300)}`);
}

const state = await ensureBucket(bucket);

const s3 = new Bun.S3Client({ endpoint, accessKeyId, secretAccessKey, region, bucket });
const key = `_services-check/${process.pid}-${Date.now()}.txt`;
const payload = `sillage services check ${new Date().toISOString()}`;
await s3.write(key, payload, { type: "text/plain" });
const back = await s3.file(key).text();
if (back !== payload) throw new Error(`read-back mismatch: ${JSON.stringify(back)}`);
await s3.delete(key);
if (await s3.exists(key)) throw new Error("object still exists after delete");
if (!quiet) console.error(`[services] s3 bucket ${bucket} ${state}; Bun.S3Client write/read/delete ok`);
