// PURE: whether an IP address is on the public internet — the only places the gateway fetches
// client-named URLs from (image_url), unless the operator allows private addresses. Refused:
// unspecified, loopback, private (RFC 1918), carrier-grade NAT (RFC 6598), link-local,
// multicast and reserved IPv4; loopback, unique-local, link-local, multicast IPv6; and IPv6 forms
// that carry an IPv4 address (mapped, compatible, NAT64, 6to4), judged by that address.
import { isIP } from "node:net";

export function isPublicAddress(address: string): boolean {
  const version = isIP(address);
  if (version === 4) return isPublicIPv4(ipv4Octets(address)!);
  if (version === 6) return isPublicIPv6(address);
  return false;
}

function ipv4Octets(address: string): number[] | undefined {
  const parts = address.split(".").map(Number);
  return parts.length === 4 && parts.every((part) => Number.isInteger(part) && part >= 0 && part <= 255) ? parts : undefined;
}

function isPublicIPv4([a, b]: number[]): boolean {
  if (a === 0 || a === 10 || a === 127) return false; // "this network", private, loopback
  if (a === 100 && b! >= 64 && b! <= 127) return false; // carrier-grade NAT
  if (a === 169 && b === 254) return false; // link-local (cloud metadata lives here)
  if (a === 172 && b! >= 16 && b! <= 31) return false;
  if (a === 192 && b === 168) return false;
  if (a === 192 && b === 0) return false; // IETF protocol assignments, 192.0.0.0/24 (and 192.0.2.0/24 below)
  if (a === 198 && (b === 18 || b === 19)) return false; // benchmarking
  if (a! >= 224) return false; // multicast, reserved, broadcast
  return true;
}

function isPublicIPv6(address: string): boolean {
  const words = ipv6Words(address);
  if (!words) return false;
  const embedded = (high: number, low: number) => isPublicIPv4([high >> 8, high & 255, low >> 8, low & 255]);
  if (words.every((word) => word === 0)) return false; // ::
  if (words.slice(0, 7).every((word) => word === 0) && words[7] === 1) return false; // ::1
  if (words.slice(0, 5).every((word) => word === 0) && (words[5] === 0xffff || words[5] === 0)) return embedded(words[6]!, words[7]!); // ::ffff:a.b.c.d, ::a.b.c.d
  if (words[0] === 0x64 && words[1] === 0xff9b) return embedded(words[6]!, words[7]!); // NAT64
  if (words[0] === 0x2002) return embedded(words[1]!, words[2]!); // 6to4
  const first = words[0]!;
  if ((first & 0xfe00) === 0xfc00) return false; // unique-local fc00::/7
  if ((first & 0xffc0) === 0xfe80) return false; // link-local fe80::/10
  if ((first & 0xffc0) === 0xfec0) return false; // site-local (deprecated) fec0::/10
  if ((first & 0xff00) === 0xff00) return false; // multicast
  if (first === 0x2001 && words[1] === 0x0db8) return false; // documentation
  return true;
}

/** Eight 16-bit words of an IPv6 address (with :: and a trailing dotted IPv4 expanded). */
function ipv6Words(address: string): number[] | undefined {
  let text = address.replace(/^\[|\]$/g, "").replace(/%.*$/, "");
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    const octets = ipv4Octets(dotted[1]!);
    if (!octets) return undefined;
    text = `${text.slice(0, -dotted[1]!.length)}${((octets[0]! << 8) | octets[1]!).toString(16)}:${((octets[2]! << 8) | octets[3]!).toString(16)}`;
  }
  const [head, tail] = text.split("::") as [string, string | undefined];
  const parse = (part: string) => (part === "" ? [] : part.split(":").map((word) => Number.parseInt(word, 16)));
  const start = parse(head);
  const end = tail === undefined ? [] : parse(tail);
  const missing = 8 - start.length - end.length;
  if (tail === undefined ? missing !== 0 : missing < 0) return undefined;
  const words = [...start, ...Array<number>(missing).fill(0), ...end];
  return words.every((word) => Number.isInteger(word) && word >= 0 && word <= 0xffff) ? words : undefined;
}
