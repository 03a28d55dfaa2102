/**
 * The ordered registry of formats. Every detector runs; the most confident wins when it is exclusive,
 * otherwise all co-resident formats that match are opened side by side (a hybrid ISO is iso9660, mbr,
 * gpt and eltorito at once).
 */
import type { Format } from '../model.js';
import { apmFormat } from './apm/index.js';
import { arFormat } from './ar/index.js';
import { bzip2Format } from './bzip2/index.js';
import { cpioFormat } from './cpio/index.js';
import { eltoritoFormat } from './eltorito/index.js';
import { elfFormat } from './elf/index.js';
import { erofsFormat } from './erofs/index.js';
import { ext4Format } from './ext4/index.js';
import { fatFormat } from './fat/index.js';
import { gptFormat } from './gpt/index.js';
import { gzipFormat } from './gzip/index.js';
import { hfsplusFormat } from './hfsplus/index.js';
import { iso9660Format } from './iso9660/index.js';
import { linuxFormat } from './linux/index.js';
import { lz4Format } from './lz4/index.js';
import { mbrFormat } from './mbr/index.js';
import { peFormat } from './pe/index.js';
import { pycFormat } from './pyc/index.js';
import { squashfsFormat } from './squashfs/index.js';
import { tarFormat } from './tar/index.js';
import { ukiFormat } from './uki/index.js';
import { xzFormat } from './xz/index.js';
import { zipFormat } from './zip/index.js';
import { zstdFormat } from './zstd/index.js';

export const FORMATS: readonly Format[] = [
  iso9660Format,
  eltoritoFormat,
  mbrFormat,
  gptFormat,
  apmFormat,
  fatFormat,
  hfsplusFormat,
  squashfsFormat,
  erofsFormat,
  ext4Format,
  ukiFormat,
  linuxFormat,
  peFormat,
  elfFormat,
  cpioFormat,
  gzipFormat,
  xzFormat,
  zstdFormat,
  lz4Format,
  bzip2Format,
  zipFormat,
  tarFormat,
  arFormat,
  pycFormat,
];
