/** The ordered registry of formats. Detectors run in order; exclusive formats own a whole source. */
import type { Format } from '../model.js';
import { iso9660Format } from './iso9660/index.js';

export const FORMATS: readonly Format[] = [iso9660Format];
