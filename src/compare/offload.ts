/**
 * Large streams decoded in the worker pool: a worker reads the stream's bytes from the input file itself and
 * writes what it decodes into a temporary file made here, whose descriptor it is lent. Both builds' copies of
 * an initrd, opened together, then inflate at once on two CPUs while this thread goes on.
 */
import { InternalError, ReprodiffError } from '../errors.js';
import type { FileSource } from '../io/file.js';
import type { ByteSource } from '../io/source.js';
import { timeLimitNow } from '../limits.js';
import type { OpenContext } from '../model.js';
import type { DecodeElsewhere, DecodedStream, OnceFormat, OnceLayouts } from '../walk/once.js';
import type { WorkerPool } from './pool.js';

/** Decoding in `pool` for streams whose bytes all lie in one of `inputs`. */
export function decodeInPool(pool: WorkerPool, inputs: readonly FileSource[]): DecodeElsewhere {
  return {
    decode<F extends OnceFormat>(format: F, src: ByteSource, ctx: OpenContext): Promise<DecodedStream<OnceLayouts[F]>> | undefined {
      // a source is named after the input that holds it (`a.iso//live/initrd.img`)
      const input = inputs.find((f) => src.name === f.name || src.name.startsWith(`${f.name}/`));
      if (!input || !ctx.temp) return undefined;
      const spans = src.spans(0, src.size);
      if (spans.some((s) => s.stream !== undefined)) return undefined;
      const limit = timeLimitNow();
      const into = ctx.temp.make(`${src.name}//content`);
      const task = {
        format,
        file: input.path,
        fileName: input.name,
        spans: spans.map((s) => ({ offset: s.offset, length: s.length })),
        name: src.name,
        fd: into.descriptor,
        limits: { ...ctx.limits },
        timeLimited: ctx.timeLimited === true,
        ...(limit && ctx.timeLimited ? { limit } : {}),
      };
      return pool.decode(task).then(
        (r) => {
          if (!('members' in r)) into.close();
          if ('failure' in r) {
            const f = r.failure;
            const e = new ReprodiffError(f.code, f.message, { file: f.file, structure: f.structure, offset: f.offset });
            if (f.temp) into.failedElsewhere(e);
            throw e;
          }
          if ('internal' in r) {
            const e = new Error(r.internal.message);
            if (r.internal.stack) e.stack = r.internal.stack;
            throw new InternalError(`${src.name} as ${format} (in a worker)`, undefined, e);
          }
          into.grown(r.size);
          into.seal();
          // the worker ran this format's own decoding: what it learnt is this format's layout
          return { members: r.members as OnceLayouts[F], store: into };
        },
        (e: unknown) => {
          into.close();
          throw e;
        },
      );
    },
  };
}
