/**
 * The pipelines a server (or a scale-out worker) runs: the default one and more by name
 * (`?pipeline=<name>` on a WHIP offer), checked once, warmed before the first session.
 */
import { invalidArgument } from '../../core/errors.js';
import { HttpError } from './http-util.js';
import { defaultPipeline, type SessionPipeline } from './session-pipeline.js';

export interface PipelineTable {
  /** The pipeline asked for by name (null or 'default': the default); 400 for a name it does not have. */
  pick(name: string | null): { name: string; pipeline: SessionPipeline };
  /** Loads every pipeline's models; the returned function releases them. */
  warm(): Promise<() => void>;
}

export function pipelineTable(pipeline: SessionPipeline | undefined, pipelines: Readonly<Record<string, SessionPipeline>> = {}): PipelineTable {
  const main = pipeline ?? defaultPipeline();
  const named = new Map(Object.entries(pipelines));
  for (const name of named.keys()) {
    if (name === 'default') throw invalidArgument("startServer: 'default' is the `pipeline` option's name; give the others another");
    if (!/^[a-z][a-z0-9-]{0,31}$/.test(name)) throw invalidArgument(`startServer: pipeline names are lower-case words (a-z, 0-9, -), got '${name}'`);
  }
  return {
    pick(name) {
      if (name === null || name === 'default') return { name: 'default', pipeline: main };
      const p = named.get(name);
      if (p === undefined) {
        const names = ['default', ...named.keys()].join(', ');
        throw new HttpError(400, `no pipeline '${name.slice(0, 40)}' on this server (pipelines: ${names})`);
      }
      return { name, pipeline: p };
    },
    async warm() {
      // Models load before the first session, not inside one (a load blocks the event loop).
      const releases: (() => void)[] = [];
      try {
        for (const p of [main, ...named.values()]) {
          const release = await p.warm?.();
          if (release) releases.push(release);
        }
      } catch (e) {
        releases.forEach((r) => r());
        throw e;
      }
      return () => releases.forEach((r) => r());
    },
  };
}
