/**
 * The PE certificate table (WIN_CERTIFICATE) and the Authenticode PKCS#7 SignedData inside it
 * (RFC 2315 + Microsoft's "Windows Authenticode Portable Executable Signature Format").
 */
import { Bytes } from '../../io/bytes.js';
import type { ByteSource } from '../../io/source.js';
import type { Field, Region, Span } from '../../model.js';
import { field } from '../../model.js';
import { DerReader, nameToString, type Der } from './der.js';

export const SIGNING_TIME_HINT =
  'the signer embeds the signing time: sbsign always adds one and has no option to fix it (sign with osslsigncode `-time $SOURCE_DATE_EPOCH`, or keep signing out of the reproducibility check by comparing unsigned images / re-attaching the signature with `sbattach`)';

const OID_SIGNED_DATA = '1.2.840.113549.1.7.2';
const OID_SPC_INDIRECT = '1.3.6.1.4.1.311.2.1.4';
const OID_SIGNING_TIME = '1.2.840.113549.1.9.5';
const OID_MESSAGE_DIGEST = '1.2.840.113549.1.9.4';
const OID_CONTENT_TYPE = '1.2.840.113549.1.9.3';
const OID_SPC_OPUS = '1.3.6.1.4.1.311.2.1.12';
const OID_COUNTERSIGNATURE = '1.2.840.113549.1.9.6';
const OID_RFC3161 = '1.3.6.1.4.1.311.3.3.1';
const DIGESTS: Record<string, string> = {
  '1.3.14.3.2.26': 'sha1',
  '2.16.840.1.101.3.4.2.1': 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384',
  '2.16.840.1.101.3.4.2.3': 'sha512',
  '1.2.840.113549.2.5': 'md5',
};
const SIG_ALGS: Record<string, string> = {
  '1.2.840.113549.1.1.1': 'rsaEncryption',
  '1.2.840.113549.1.1.11': 'sha256WithRSAEncryption',
  '1.2.840.113549.1.1.5': 'sha1WithRSAEncryption',
  '1.2.840.10045.4.3.2': 'ecdsa-with-SHA256',
};
const CERT_TYPES: Record<number, string> = { 1: 'X509', 2: 'PKCS_SIGNED_DATA', 0xef1: 'EFI_GUID' };

/** Max bytes of one certificate table held in memory. */
export const MAX_CERT_TABLE = 16 * 1024 * 1024;

export interface CertTableResult {
  fields: Field[];
  regions: Region[];
  notes: string[];
  /** issuer strings per signature, for listings */
  issuers: string[];
}

/**
 * Parses the certificate table at file offset `off`, `size` bytes. `imageCovers` are the spans the
 * Authenticode digest is computed over (the image minus checksum, certificate directory entry and table).
 */
export function parseCertTable(src: ByteSource, off: number, size: number, imageCovers: Span[]): CertTableResult {
  const res: CertTableResult = { fields: [], regions: [], notes: [], issuers: [] };
  const b = Bytes.at(src, off, size, 'certificate table');
  res.regions.push({ name: 'PE certificate table', role: 'metadata', spans: b.spans(0, size) });
  let p = 0;
  let i = 0;
  while (p + 8 <= size) {
    const len = b.u32le(p);
    if (len === 0 && i > 0) break;
    if (len < 8 || len > size - p) throw b.error(p, `WIN_CERTIFICATE length ${len} does not fit the certificate table`);
    const pre = i === 0 ? 'pe.cert.' : `pe.cert[${i}].`;
    const rev = b.u16le(p + 4);
    const type = b.u16le(p + 6);
    res.fields.push(field(`${pre}length`, len, 'size', b.spans(p, 4), { derived: true }));
    res.fields.push(field(`${pre}revision`, `0x${rev.toString(16).padStart(4, '0')}`, 'content', b.spans(p + 4, 2)));
    res.fields.push(field(`${pre}type`, CERT_TYPES[type] ?? type, 'content', b.spans(p + 6, 2)));
    if (type === 2) {
      try {
        parseSignedData(b.sub(p + 8, len - 8, 'Authenticode signature'), i === 0 ? 'pe.authenticode.' : `pe.authenticode[${i}].`, imageCovers, res);
      } catch (e) {
        const err = e as { code?: string; message?: string };
        if (err.code === 'E_FORMAT' || err.code === 'E_LIMIT' || err.code === 'E_UNSUPPORTED' || err.code === 'E_TRUNCATED') {
          res.notes.push(`certificate ${i}: ${err.message ?? String(e)}`);
        } else throw e;
      }
    } else res.notes.push(`certificate ${i} has type ${type}, not PKCS#7 SignedData`);
    const padded = Math.ceil(len / 8) * 8;
    if (padded > len && p + padded <= size) res.regions.push({ name: 'WIN_CERTIFICATE padding', role: 'padding', spans: b.spans(p + len, padded - len) });
    p += padded;
    i++;
    if (i > 64) {
      res.notes.push('more than 64 certificates: the rest were not read');
      break;
    }
  }
  return res;
}

function parseSignedData(cb: Bytes, pre: string, imageCovers: Span[], res: CertTableResult): void {
  const r = new DerReader(cb.data, cb.base, cb.src.name);
  const sp = (el: Der, whole = false): Span[] => cb.spans(whole ? el.start : el.contentStart, el.end - (whole ? el.start : el.contentStart));
  const top = r.read(0, cb.length);
  const ctype = r.child(top, 0, 0x06);
  if (r.oid(ctype) !== OID_SIGNED_DATA) throw r.error(ctype.start, 'the signature is not PKCS#7 SignedData');
  const signed = r.child(r.child(top, 1, 0xa0), 0, 0x30);
  const parts = r.children(signed);
  // version, digestAlgorithms, contentInfo, [0] certificates?, [1] crls?, signerInfos
  const contentInfo = parts[2];
  if (!contentInfo || contentInfo.tag !== 0x30) throw r.error(signed.start, 'SignedData lacks its contentInfo');
  const ciType = r.oid(r.child(contentInfo, 0, 0x06));
  if (ciType !== OID_SPC_INDIRECT) res.notes.push(`Authenticode content type is ${ciType}, not SpcIndirectDataContent`);
  const spc = r.child(r.child(contentInfo, 1, 0xa0), 0, 0x30);
  const digestInfo = r.child(spc, 1, 0x30);
  const alg = r.oid(r.child(r.child(digestInfo, 0, 0x30), 0, 0x06));
  const digest = r.child(digestInfo, 1, 0x04);
  res.fields.push(field(`${pre}digest_algorithm`, DIGESTS[alg] ?? alg, 'content', sp(r.child(digestInfo, 0), true)));
  res.fields.push(field(`${pre}digest`, r.hex(digest), 'checksum', sp(digest), { covers: imageCovers, derived: true }));
  const certs = parts.find((x) => x.tag === 0xa0);
  if (certs) res.fields.push(field(`${pre}certificates`, r.children(certs).length, 'content', sp(certs, true)));
  const signerInfos = parts[parts.length - 1];
  if (!signerInfos || signerInfos.tag !== 0x31) throw r.error(signed.start, 'SignedData lacks signerInfos');
  r.children(signerInfos).forEach((si, n) => {
    const sPre = n === 0 ? `${pre}signer.` : `${pre}signer[${n}].`;
    const s = r.children(si);
    const ias = s[1];
    if (!ias || ias.tag !== 0x30) throw r.error(si.start, 'SignerInfo lacks issuerAndSerialNumber');
    const issuer = r.child(ias, 0, 0x30);
    const serial = r.child(ias, 1, 0x02);
    const issuerText = nameToString(r, issuer);
    res.issuers.push(issuerText);
    res.fields.push(field(`${sPre}issuer`, issuerText, 'content', sp(issuer, true)));
    res.fields.push(field(`${sPre}serial`, r.hex(serial), 'content', sp(serial)));
    let k = 3;
    const auth = s[k];
    let attrsEl: Der | null = null;
    if (auth && auth.tag === 0xa0) {
      attrsEl = auth;
      k++;
      for (const attr of r.children(auth)) {
        const oid = r.oid(r.child(attr, 0, 0x06));
        const value = r.children(r.child(attr, 1, 0x31))[0];
        if (!value) continue;
        if (oid === OID_SIGNING_TIME) {
          res.fields.push(field(`${sPre}signing_time`.replace(/signer(\[\d+\])?\./, ''), r.time(value), 'timestamp', sp(value), { hint: SIGNING_TIME_HINT }));
        } else if (oid === OID_MESSAGE_DIGEST) {
          // the digest of the SpcIndirectDataContent's contents
          res.fields.push(field(`${sPre}message_digest`, r.hex(value), 'checksum', sp(value), { covers: sp(spc), derived: true }));
        } else if (oid === OID_CONTENT_TYPE) {
          res.fields.push(field(`${sPre}content_type`, r.oid(value), 'content', sp(value, true)));
        } else if (oid === OID_SPC_OPUS) {
          res.fields.push(field(`${sPre}opus_info`, r.hex(value), 'content', sp(value, true)));
        } else {
          res.fields.push(field(`${sPre}attribute.${oid}`, r.hex(value).slice(0, 128), 'content', sp(value, true)));
        }
      }
    }
    const sigAlg = s[k];
    const sig = s[k + 1];
    if (sigAlg && sigAlg.tag === 0x30) {
      const a = r.oid(r.child(sigAlg, 0, 0x06));
      res.fields.push(field(`${sPre}signature_algorithm`, SIG_ALGS[a] ?? a, 'content', sp(sigAlg, true)));
    }
    if (sig && sig.tag === 0x04) {
      res.fields.push(
        field(`${sPre}signature`, r.hex(sig), 'checksum', sp(sig), {
          covers: attrsEl ? sp(attrsEl, true) : sp(spc),
          derived: true,
        }),
      );
    }
    const unauth = s[k + 2];
    if (unauth && unauth.tag === 0xa1) {
      for (const attr of r.children(unauth)) {
        const oid = r.oid(r.child(attr, 0, 0x06));
        const name = oid === OID_COUNTERSIGNATURE ? 'countersignature' : oid === OID_RFC3161 ? 'timestamp_token' : `attribute.${oid}`;
        res.fields.push(field(`${sPre}unsigned.${name}`, r.hex(attr).slice(0, 128), 'checksum', sp(attr, true), { derived: true }));
      }
    }
  });
}
