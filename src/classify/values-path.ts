/**
 * Build environment leaking into content: absolute build paths (`/build/pkg-AbC123/`, `/tmp/tmp.XXXXXX`,
 * `/home/<user>/`, `/var/tmp/…`), and the user and host names of the build machine (`user@host`,
 * kernel `(user@host)`, `Compiled by …`).
 */
import type { PairVerdict, TextPattern } from './content-types.js';

const HINT_PATH =
  'build in a fixed path, or map it away: -ffile-prefix-map=$PWD=. (gcc/clang), --remap-path-prefix (rustc), -trimpath (go), BUILD_PATH_PREFIX_MAP';
const HINT_HOST = 'set the recorded user and host to fixed values (KBUILD_BUILD_USER/KBUILD_BUILD_HOST for kernels, the tool\'s own option otherwise)';

/** Temporary and per-build folders that differ from one build to the next. */
const BUILD_ROOTS: { re: RegExp; what: string }[] = [
  { re: /^\/build\/[^/]+/, what: 'sbuild/pbuilder build folder /build/…' },
  { re: /^\/tmp\/[^/]+/, what: 'temporary folder /tmp/…' },
  { re: /^\/var\/tmp\/[^/]+/, what: 'temporary folder /var/tmp/…' },
  { re: /^\/dev\/shm\/[^/]+/, what: 'temporary folder /dev/shm/…' },
  { re: /^\/home\/[^/]+/, what: 'home folder /home/<user>/…' },
  { re: /^\/root(\/|$)/, what: 'home folder /root/…' },
  { re: /^\/Users\/[^/]+/, what: 'home folder /Users/<user>/…' },
  { re: /^\/nix\/store\/[0-9a-z]{32}-/, what: 'Nix store path' },
  { re: /^\/(builds|__w|github\/workspace|workspace|runner|buildroot|srv\/build|var\/lib\/build|usr\/src\/packages|BUILD|scratch)\//, what: 'CI or build-system work folder' },
  { re: /^\/private\/var\/folders\//, what: 'temporary folder /private/var/folders/…' },
];

function buildRoot(path: string): string | null {
  for (const r of BUILD_ROOTS) if (r.re.test(path)) return r.what;
  return null;
}

const absolutePath: TextPattern = {
  id: 'path',
  // after a word character only in flags such as -I/path or -L/path
  re: /(?:(?<![A-Za-z0-9._~+-])|(?<=(?:^|[\s"'=])-[A-Za-z]))(?:\/[A-Za-z0-9._+@%~,=-]+)+\/?/g,
  decode(m) {
    if (m[0].length < 4) return null;
    return { value: m[0], tag: buildRoot(m[0]) ?? undefined };
  },
  pair(a, b): PairVerdict | null {
    const what = a.tag ?? b.tag;
    return {
      kind: 'build-path',
      confidence: what ? 0.9 : 0.55,
      a: a.value,
      b: b.value,
      description: what ? `absolute build path in a ${what}` : 'absolute path (a build folder, or a different file named)',
      hint: HINT_PATH,
    };
  },
};

const USER = '[a-z_][a-z0-9_.-]{0,31}';
const HOST = '[A-Za-z0-9][A-Za-z0-9.-]{0,252}';

const userAtHost: TextPattern = {
  id: 'user-host',
  re: new RegExp(`(?<![A-Za-z0-9_.@+-])(\\(?)(${USER})@(${HOST})(\\)?)(?![A-Za-z0-9_@-])`, 'g'),
  decode(m, text) {
    const user = m[2] as string, host = (m[3] as string).replace(/\.$/, '');
    const before = text.slice(Math.max(0, m.index - 40), m.index);
    const kernel = m[1] === '(' && /(Linux version \S+|\d+\.\d+(\.\d+)?\S*)\s*$/.test(before);
    return { value: `${user}@${host}`, tag: kernel ? 'kernel' : host.includes('.') ? 'address' : 'host' };
  },
  pair(a, b): PairVerdict {
    const kernel = a.tag === 'kernel' || b.tag === 'kernel';
    const address = a.tag === 'address' && b.tag === 'address';
    return {
      kind: 'build-path',
      confidence: kernel ? 0.9 : address ? 0.5 : 0.7,
      a: a.value,
      b: b.value,
      description: kernel ? 'build user and host in a kernel banner' : address ? 'user@host (the builder, or a mail address that differs)' : 'user@host of the build machine',
      hint: HINT_HOST,
    };
  },
};

const builtBy: TextPattern = {
  id: 'built-by',
  re: /(?<![A-Za-z])(?:(?:Compiled|Built|Packaged|Generated|Created)\s+(?:by|on|at)|Build(?:[ _-]?(?:host|user|machine))|KBUILD_BUILD_(?:USER|HOST)|BUILD_(?:USER|HOST))\s*[:=]?\s*"?([A-Za-z0-9_.@-]{1,64})/g,
  decode(m) {
    const v = m[1] as string;
    if (/^\d/.test(v)) return null; // `Built on 2026-11-22` is a date, left to the time patterns
    return { value: v, tag: m[0].slice(0, m[0].length - v.length).trim() };
  },
  pair(a, b): PairVerdict {
    return { kind: 'build-path', confidence: 0.75, a: a.value, b: b.value, description: `build user or host after "${a.tag}"`, hint: HINT_HOST };
  },
};

export const TEXT_PATH_PATTERNS: TextPattern[] = [absolutePath, userAtHost, builtBy];
