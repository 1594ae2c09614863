import { describe, expect, test } from "bun:test";
import { envelopeOf, generateKey, parseKey, PLAINTEXT, SealError, Sealer } from "../src/sealing.ts";

describe("sealing (AES-256-GCM envelopes)", () => {
  const secret = JSON.stringify({ refresh_token: "1//very-secret-refresh-token" });

  test("round trip; the envelope names the key and never holds the plaintext or the key", () => {
    const key = generateKey();
    const sealer = new Sealer(key);
    const sealed = sealer.seal(secret);
    expect(sealed).not.toContain("very-secret");
    expect(sealed).not.toContain(key);
    const envelope = envelopeOf(sealed)!;
    expect(envelope).toMatchObject({ jellycli_sealed: 1, alg: "A256GCM", kid: sealer.keyId });
    expect(sealer.open(sealed)).toBe(secret);
    // A fresh IV each time: the same secret never seals to the same text.
    expect(sealer.seal(secret)).not.toBe(sealed);
  });

  test("a wrong key, no key and a tampered envelope are told apart", () => {
    const sealed = new Sealer(generateKey()).seal(secret);
    expect(() => new Sealer(generateKey()).open(sealed)).toThrow(/encrypted with another key/);
    expect(() => PLAINTEXT.open(sealed)).toThrow(/no encryption_key is set/);
    const envelope = envelopeOf(sealed)!;
    const key = generateKey();
    const own = new Sealer(key);
    const mine = envelopeOf(own.seal(secret))!;
    const flipped = Buffer.from(mine.data, "base64url");
    flipped[0]! ^= 1;
    expect(() => own.open(JSON.stringify({ ...mine, data: flipped.toString("base64url") }))).toThrow(/altered or damaged/);
    // Relabelling an envelope with another key id does not get past the authentication either.
    expect(() => new Sealer(key).open(JSON.stringify({ ...envelope, kid: own.keyId }))).toThrow(SealError);
  });

  test("plaintext passes through; a sealer opens with any key it was given (rekey)", () => {
    const older = generateKey();
    const newer = generateKey();
    expect(new Sealer(newer).open(secret)).toBe(secret);
    expect(PLAINTEXT.seal(secret)).toBe(secret);
    const sealed = new Sealer(older).seal(secret);
    const both = new Sealer(newer, older);
    expect(both.open(sealed)).toBe(secret);
    expect(both.isCurrent(sealed)).toBe(false);
    expect(both.isCurrent(both.seal(secret))).toBe(true);
  });

  test("keys: 32 bytes in base64 or base64url, anything else refused", () => {
    const key = generateKey();
    expect(parseKey(key)).toHaveLength(32);
    expect(parseKey(Buffer.from(key, "base64url").toString("base64"))).toEqual(parseKey(key));
    for (const bad of ["", "short", "x".repeat(44), `${key}AA`]) expect(() => parseKey(bad)).toThrow(/generate-key/);
  });
});
